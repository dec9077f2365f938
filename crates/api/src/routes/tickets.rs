//! Support tickets: `/api/v1/tickets` with their messages, events, related history, satisfaction
//! rating and stats; `/api/v1/sla-policies`; `/api/v1/tickets/settings`; and a customer's tickets.
//!
//! Two kinds of caller: staff (`tickets:read` / `tickets:write`) see everything; a
//! customer-facing integration (`tickets:portal`, e.g. a customer portal's back end) sees tickets
//! and their public replies only, opens tickets and replies as the customer, and rates solved
//! tickets.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use rapport_domain::auth::Scope;
use rapport_domain::ticket::{
    Actor, CsatDraft, DeskSettings, Message, MessageDraft, Priority, SlaPolicy, SlaPolicyDraft,
    StatsPeriod, Ticket, TicketDraft, TicketEvent, TicketStats, TicketStatus, Visibility,
    INITIAL_STATUSES,
};
use rapport_store::tickets::{self, TicketFilter, TicketOrder};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::{scope, Auth, Principal, Subject};
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::{
    apply_merge_patch, if_match, read_versioned, versioned, JsonBody, MergePatch,
};
use crate::idempotency::{IdempotencyKey, Reply};
use crate::routes::{page_limit, Page, PageQuery};
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tickets")
            .get(list_tickets)
            .post(create_ticket),
    )
    .service(web::resource("/tickets/stats").get(ticket_stats))
    .service(
        web::resource("/tickets/settings")
            .get(get_settings)
            .put(put_settings),
    )
    .service(
        web::resource("/tickets/{id}")
            .get(get_ticket)
            .patch(patch_ticket),
    )
    .service(
        web::resource("/tickets/{id}/messages")
            .get(list_messages)
            .post(add_message),
    )
    .service(web::resource("/tickets/{id}/events").get(list_events))
    .service(web::resource("/tickets/{id}/related").get(related_tickets))
    .service(web::resource("/tickets/{id}/satisfaction").post(rate_ticket))
    .service(web::resource("/customers/{id}/tickets").get(customer_tickets))
    .service(
        web::resource("/sla-policies")
            .get(list_policies)
            .post(create_policy),
    )
    .service(
        web::resource("/sla-policies/{id}")
            .get(get_policy)
            .patch(patch_policy)
            .delete(delete_policy),
    );
}

/// Who is reading or writing tickets: staff, or the customer through a `tickets:portal` key.
pub struct TicketCaller {
    pub principal: Principal,
    /// Staff (`tickets:read`, or `tickets:write` for writes): internal notes and events are theirs.
    pub staff: bool,
}

fn caller(req: &HttpRequest, staff_scope: Scope) -> Result<TicketCaller, ApiError> {
    let p = req
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ApiError::new(Code::Unauthorized, "authentication required"))?;
    if p.scopes.allows(staff_scope) {
        Ok(TicketCaller {
            principal: p,
            staff: true,
        })
    } else if p.scopes.allows(Scope::TicketsPortal) {
        Ok(TicketCaller {
            principal: p,
            staff: false,
        })
    } else {
        Err(ApiError::new(
            Code::Forbidden,
            format!("this credential lacks the `{staff_scope}` or `tickets:portal` scope"),
        ))
    }
}

/// Reads: `tickets:read` (staff) or `tickets:portal` (customer-facing).
pub struct TicketReader(pub TicketCaller);

impl FromRequest for TicketReader {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req, Scope::TicketsRead).map(TicketReader))
    }
}

/// Writes: `tickets:write` (staff) or `tickets:portal` (as the customer).
pub struct TicketWriter(pub TicketCaller);

impl FromRequest for TicketWriter {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req, Scope::TicketsWrite).map(TicketWriter))
    }
}

fn staff_actor(p: &Principal) -> Actor {
    match p.subject {
        Subject::User(id) => Actor::User(id),
        Subject::ApiKey(id) => Actor::ApiKey(id),
    }
}

fn ticket_not_found(e: ApiError) -> ApiError {
    crate::error::not_found_as("ticket")(e)
}

/// Open a ticket. The SLA policy for its priority and category (if any) sets its due times. A
/// customer-facing key opens it as the customer: `new`, unassigned.
#[utoipa::path(
    post, path = "/api/v1/tickets", tag = "tickets",
    params(IdempotencyKey),
    request_body = TicketDraft,
    responses(
        (status = 201, description = "Opened", body = Ticket, headers(("Location" = String), ("ETag" = String))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:write` or `tickets:portal`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`customer_archived`, or `idempotency_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or no such customer, assignee or purchase", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_ticket(
    TicketWriter(who): TicketWriter,
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(draft): JsonBody<TicketDraft>,
) -> ApiResult<HttpResponse> {
    let draft = draft.parse()?;
    if !INITIAL_STATUSES.contains(&draft.status) {
        return Err(rapport_domain::ValidationFailure::single(
            "status",
            "initial_status",
            "a ticket starts as new or open",
        )
        .into());
    }
    let staff = if who.staff {
        Some(staff_actor(&who.principal))
    } else {
        let field = if draft.assignee_id.is_some() {
            Some("assignee_id")
        } else if draft.status != TicketStatus::New {
            Some("status")
        } else if draft.opened_at.is_some() {
            Some("opened_at")
        } else {
            None
        };
        if let Some(field) = field {
            return Err(rapport_domain::ValidationFailure::single(
                field,
                "staff_only",
                "a customer-facing key opens tickets now, as new and unassigned",
            )
            .into());
        }
        None
    };
    let now = rapport_domain::now();
    let (_, res) = state
        .write_reply(
            &req,
            move |conn| {
                let actor = staff.unwrap_or(Actor::Customer(draft.customer_id));
                tickets::insert(conn, &draft, Some(actor), now)
            },
            |ticket| {
                Reply::build(StatusCode::CREATED)
                    .location(format!("/api/v1/tickets/{}", ticket.id))
                    .versioned(ticket)
            },
        )
        .await?;
    state.metrics.tickets_created.inc();
    Ok(res)
}

/// A ticket, with its SLA clocks as of now.
#[utoipa::path(
    get, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "The ticket", body = Ticket, headers(("ETag" = String))),
        (status = 400, description = "Bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:read` or `tickets:portal`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_ticket(
    _who: TicketReader,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = rapport_domain::now();
    let t = state
        .run(move |conn| tickets::get(conn, id, now))
        .await
        .map_err(ticket_not_found)?;
    // No 304 for tickets: their SLA clocks (remaining time, breach) are computed as of the read.
    Ok(versioned(StatusCode::OK, &t))
}

/// Change a ticket with a JSON merge patch. A status change must follow the state machine
/// (`new → open → pending → solved → closed`, `on_hold`; a solved ticket reopens to `open` within
/// the desk's window): otherwise 409 naming the allowed statuses. Status, priority, assignee and
/// category changes are recorded as events; a new priority or category chooses the SLA policy again.
#[utoipa::path(
    patch, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read; 412 if it is stale")),
    request_body(content = serde_json::Value, description = "JSON merge patch (RFC 7396) of the ticket's writable fields",
        content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed ticket", body = Ticket, headers(("ETag" = String))),
        (status = 400, description = "Bad id or malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition` or `reopen_window_closed` (with `allowed_statuses`), `ticket_closed`, `customer_archived`, `concurrent_update`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid result", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn patch_ticket(
    auth: Auth<scope::TicketsWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    MergePatch(patch): MergePatch,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = if_match(&req)?;
    let actor = staff_actor(&auth.principal);
    let updated = apply_merge_patch(
        expected,
        &patch,
        || async {
            let now = rapport_domain::now();
            let current = state
                .run(move |conn| tickets::get(conn, id, now))
                .await
                .map_err(ticket_not_found)?;
            Ok((current.draft, current.version))
        },
        |draft: TicketDraft, version| {
            let now = rapport_domain::now();
            let state = state.clone();
            async move {
                let to = draft.status;
                let (before, t) = state
                    .run_write(move |conn| {
                        let (t, before) =
                            tickets::update(conn, id, version, &draft, Some(actor), now)?;
                        Ok((before, t))
                    })
                    .await
                    .map_err(ticket_not_found)?;
                if before != to {
                    state
                        .metrics
                        .ticket_status_changes
                        .with_label_values(&[to.as_str()])
                        .inc();
                }
                Ok(t)
            }
        },
    )
    .await?;
    Ok(versioned(StatusCode::OK, &updated))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListTicketsQuery {
    /// Statuses, any of them: comma-separated (`new,open`) or repeated (`status=new&status=open`).
    #[serde(default)]
    pub status: Vec<String>,
    pub priority: Option<Priority>,
    /// Tickets of this staff user.
    pub assignee_id: Option<Uuid>,
    /// Only tickets nobody is working.
    pub unassigned: Option<bool>,
    pub customer_id: Option<Uuid>,
    pub category: Option<String>,
    pub tag: Option<String>,
    /// Tickets about this product model (exact).
    pub product_model: Option<String>,
    /// `true`: tickets with a breached SLA clock; `false`: the others.
    pub sla_breached: Option<bool>,
    /// Text in the subject or description (case-insensitive).
    pub q: Option<String>,
    /// Created at or after (RFC 3339).
    pub created_after: Option<DateTime<Utc>>,
    /// Created strictly before (RFC 3339).
    pub created_before: Option<DateTime<Utc>>,
    /// Changed at or after (RFC 3339).
    pub updated_after: Option<DateTime<Utc>>,
    /// Changed strictly before (RFC 3339).
    pub updated_before: Option<DateTime<Utc>>,
    /// `-created_at` (default, newest first) or `created_at`.
    pub sort: Option<TicketSort>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum TicketSort {
    #[serde(rename = "-created_at")]
    NewestFirst,
    #[serde(rename = "created_at")]
    OldestFirst,
}

fn statuses(values: &[String]) -> ApiResult<Vec<TicketStatus>> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            TicketStatus::parse(s.trim()).ok_or_else(|| {
                ApiError::new(
                    Code::InvalidQuery,
                    format!(
                        "unknown status `{}`; statuses are new, open, pending, on_hold, solved, closed",
                        s.trim()
                    ),
                )
            })
        })
        .collect()
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The desk's ticket list, newest first by default, with filters.
#[utoipa::path(
    get, path = "/api/v1/tickets", tag = "tickets",
    params(ListTicketsQuery),
    responses(
        (status = 200, description = "A page of tickets", body = Page<Ticket>),
        (status = 400, description = "Bad query or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:read`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_tickets(
    _auth: Auth<scope::TicketsRead>,
    state: web::Data<AppState>,
    query: crate::extract::Query<ListTicketsQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let filter = TicketFilter {
        customer_id: q.customer_id,
        status: statuses(&q.status)?,
        priority: q.priority,
        assignee_id: q.assignee_id,
        unassigned: q.unassigned.unwrap_or(false),
        category: given(&q.category),
        tag: given(&q.tag),
        product_model: given(&q.product_model),
        sla_breached: q.sla_breached,
        q: given(&q.q),
        created_after: q.created_after,
        created_before: q.created_before,
        updated_after: q.updated_after,
        updated_before: q.updated_before,
        ..Default::default()
    };
    let order = match q.sort {
        Some(TicketSort::OldestFirst) => TicketOrder::OldestFirst,
        _ => TicketOrder::NewestFirst,
    };
    let cursor = q.cursor.filter(|c| !c.is_empty());
    let now = rapport_domain::now();
    let page = state
        .run(move |conn| tickets::list(conn, &filter, order, cursor.as_deref(), limit, now))
        .await?;
    Ok(HttpResponse::Ok().json(Page::from(page)))
}

/// A customer's tickets, newest first (a merged duplicate's id gives the survivor's).
#[utoipa::path(
    get, path = "/api/v1/customers/{id}/tickets", tag = "tickets",
    params(("id" = Uuid, Path, description = "Customer id"), PageQuery),
    responses(
        (status = 200, description = "A page of tickets", body = Page<Ticket>),
        (status = 400, description = "Bad id, query or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:read` or `tickets:portal`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn customer_tickets(
    _who: TicketReader,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (limit, cursor) = query.into_inner().limit_and_cursor()?;
    let now = rapport_domain::now();
    let page = state
        .run(move |conn| tickets::of_customer(conn, id, cursor.as_deref(), limit, now))
        .await
        .map_err(crate::error::not_found_as("customer"))?;
    Ok(HttpResponse::Ok().json(Page::from(page)))
}

/// The customer's earlier tickets about the same product model as this one, newest first: what
/// went wrong with this phone or computer before.
#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/related", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id"), PageQuery),
    responses(
        (status = 200, description = "A page of earlier tickets (empty when the ticket names no model)", body = Page<Ticket>),
        (status = 400, description = "Bad id, query or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:read` or `tickets:portal`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn related_tickets(
    _who: TicketReader,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (limit, cursor) = query.into_inner().limit_and_cursor()?;
    let now = rapport_domain::now();
    let page = state
        .run(move |conn| tickets::related(conn, id, cursor.as_deref(), limit, now))
        .await
        .map_err(ticket_not_found)?;
    Ok(HttpResponse::Ok().json(Page::from(page)))
}

/// Reply or note. The first public reply by staff stamps the first response (and opens a `new`
/// ticket); a customer's reply (through `tickets:portal`, always public) opens a `pending`
/// ticket again, and reopens a `solved` one within the desk's reopen window (409 after it).
/// Closed tickets take no messages (409).
#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/messages", tag = "tickets",
    params(IdempotencyKey, ("id" = Uuid, Path, description = "Ticket id")),
    request_body = MessageDraft,
    responses(
        (status = 201, description = "Added", body = Message),
        (status = 400, description = "Bad id or malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:write` or `tickets:portal`; or an internal note from a customer-facing key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ticket_closed`, `reopen_window_closed` (a customer's reply to a ticket solved longer ago than the window), `idempotency_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_message(
    TicketWriter(who): TicketWriter,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    JsonBody(draft): JsonBody<MessageDraft>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    draft
        .validate()
        .map_err(rapport_domain::ValidationFailure::from)?;
    if !who.staff && draft.visibility == Visibility::Internal {
        return Err(ApiError::new(
            Code::Forbidden,
            "a customer-facing key cannot write internal notes",
        ));
    }
    let staff = who.staff.then(|| staff_actor(&who.principal));
    let now = rapport_domain::now();
    let (written, res) = state
        .write_reply(
            &req,
            move |conn| tickets::add_message(conn, id, &draft, staff, now),
            |(message, _, _)| Reply::build(StatusCode::CREATED).json(message),
        )
        .await
        .map_err(ticket_not_found)?;
    if let (_, ticket, Some(_)) = &written {
        state
            .metrics
            .ticket_status_changes
            .with_label_values(&[ticket.draft.status.as_str()])
            .inc();
    }
    Ok(res)
}

/// A ticket's conversation, oldest first. Internal notes are left out for a customer-facing key.
#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/messages", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id"), PageQuery),
    responses(
        (status = 200, description = "A page of messages", body = Page<Message>),
        (status = 400, description = "Bad id, query or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:read` or `tickets:portal`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_messages(
    TicketReader(who): TicketReader,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (limit, cursor) = query.into_inner().limit_and_cursor()?;
    let internal = who.staff;
    let now = rapport_domain::now();
    let page = state
        .run(move |conn| {
            tickets::get(conn, id, now)?;
            tickets::messages(conn, id, internal, cursor.as_deref(), limit)
        })
        .await
        .map_err(ticket_not_found)?;
    Ok(HttpResponse::Ok().json(Page::from(page)))
}

/// A ticket's history: every change of status, priority, assignee and category (who, when,
/// from, to), the first response and the rating; oldest first.
#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/events", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id"), PageQuery),
    responses(
        (status = 200, description = "A page of events", body = Page<TicketEvent>),
        (status = 400, description = "Bad id, query or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_events(
    _auth: Auth<scope::TicketsRead>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (limit, cursor) = query.into_inner().limit_and_cursor()?;
    let now = rapport_domain::now();
    let page = state
        .run(move |conn| {
            tickets::get(conn, id, now)?;
            tickets::events(conn, id, cursor.as_deref(), limit)
        })
        .await
        .map_err(ticket_not_found)?;
    Ok(HttpResponse::Ok().json(Page::from(page)))
}

/// The customer's satisfaction rating (CSAT) of a solved or closed ticket, once; through the
/// customer-facing scope.
#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/satisfaction", tag = "tickets",
    params(IdempotencyKey, ("id" = Uuid, Path, description = "Ticket id")),
    request_body = CsatDraft,
    responses(
        (status = 200, description = "The rated ticket", body = Ticket, headers(("ETag" = String))),
        (status = 400, description = "Bad id or malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:portal`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ticket_not_solved`, `already_rated`, `idempotency_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid rating", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rate_ticket(
    _auth: Auth<scope::TicketsPortal>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    JsonBody(draft): JsonBody<CsatDraft>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    draft
        .validate()
        .map_err(rapport_domain::ValidationFailure::from)?;
    let now = rapport_domain::now();
    let (t, res) = state
        .write_reply(
            &req,
            move |conn| tickets::rate(conn, id, &draft, None, now),
            |t| Reply::build(StatusCode::OK).versioned(t),
        )
        .await
        .map_err(ticket_not_found)?;
    if let Some(c) = &t.csat {
        state
            .metrics
            .ticket_ratings
            .with_label_values(&[&c.rating.to_string()])
            .inc();
    }
    Ok(res)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Tickets created at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Tickets created strictly before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Bucket length of `by_period` (default `month`).
    pub period: Option<StatsPeriod>,
}

/// The desk's numbers over the tickets created in a range: counts by status, median first
/// response and resolution times, SLA breach rate, CSAT average and distribution; overall and by
/// agent, category and period.
#[utoipa::path(
    get, path = "/api/v1/tickets/stats", tag = "tickets",
    params(StatsQuery),
    responses(
        (status = 200, description = "The report", body = TicketStats),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:read`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ticket_stats(
    _auth: Auth<scope::TicketsRead>,
    state: web::Data<AppState>,
    query: web::Query<StatsQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    if let (Some(f), Some(t)) = (q.from, q.to) {
        if f >= t {
            return Err(ApiError::new(
                Code::InvalidQuery,
                "`from` must be before `to`",
            ));
        }
    }
    let now = rapport_domain::now();
    let (from, to) = (q.from, q.to);
    let facts = state
        .run(move |conn| tickets::stats_rows(conn, from, to, now))
        .await?;
    let report =
        rapport_domain::ticket::stats(&facts, from, to, q.period.unwrap_or(StatsPeriod::Month));
    Ok(HttpResponse::Ok().json(report))
}

/// The desk's settings.
#[utoipa::path(
    get, path = "/api/v1/tickets/settings", tag = "tickets",
    responses(
        (status = 200, description = "The settings", body = DeskSettings),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:read`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_settings(
    _auth: Auth<scope::TicketsRead>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let s = state.run(tickets::desk_settings).await?;
    Ok(HttpResponse::Ok().json(s))
}

/// Replace the desk's settings (admin).
#[utoipa::path(
    put, path = "/api/v1/tickets/settings", tag = "tickets",
    request_body = DeskSettings,
    responses(
        (status = 200, description = "The new settings", body = DeskSettings),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid settings", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put_settings(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    JsonBody(s): JsonBody<DeskSettings>,
) -> ApiResult<HttpResponse> {
    s.validate()
        .map_err(rapport_domain::ValidationFailure::from)?;
    let s = state
        .run_write(move |conn| tickets::put_desk_settings(conn, &s))
        .await?;
    Ok(HttpResponse::Ok().json(s))
}

fn policy_not_found(e: ApiError) -> ApiError {
    crate::error::not_found_as("SLA policy")(e)
}

/// Add an SLA policy: first-response and resolution targets for a priority (and optionally a
/// category), in business hours of a calendar or 24/7. New tickets, and tickets whose priority
/// or category changes, take the matching policy; others keep the terms they have.
#[utoipa::path(
    post, path = "/api/v1/sla-policies", tag = "tickets",
    params(IdempotencyKey),
    request_body = SlaPolicyDraft,
    responses(
        (status = 201, description = "Added", body = SlaPolicy, headers(("Location" = String), ("ETag" = String))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`duplicate_sla_policy`: another policy covers this priority and category", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid policy or calendar", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_policy(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(draft): JsonBody<SlaPolicyDraft>,
) -> ApiResult<HttpResponse> {
    let draft = draft.parse()?;
    let now = rapport_domain::now();
    let (_, res) = state
        .write_reply(
            &req,
            move |conn| tickets::create_policy(conn, &draft, now),
            |p| {
                Reply::build(StatusCode::CREATED)
                    .location(format!("/api/v1/sla-policies/{}", p.id))
                    .versioned(p)
            },
        )
        .await?;
    Ok(res)
}

/// Every SLA policy, by priority.
#[utoipa::path(
    get, path = "/api/v1/sla-policies", tag = "tickets",
    responses(
        (status = 200, description = "The policies", body = Page<SlaPolicy>),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:read`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_policies(
    _auth: Auth<scope::TicketsRead>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let all = state.run(tickets::policies).await?;
    Ok(HttpResponse::Ok().json(Page {
        data: all,
        next_cursor: None,
    }))
}

/// An SLA policy.
#[utoipa::path(
    get, path = "/api/v1/sla-policies/{id}", tag = "tickets",
    params(("id" = Uuid, Path, description = "Policy id")),
    responses(
        (status = 200, description = "The policy", body = SlaPolicy, headers(("ETag" = String))),
        (status = 400, description = "Bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `tickets:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such policy", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_policy(
    _auth: Auth<scope::TicketsRead>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let p = state
        .run(move |conn| tickets::policy(conn, id))
        .await
        .map_err(policy_not_found)?;
    Ok(read_versioned(&req, &p))
}

/// Change an SLA policy with a JSON merge patch (`"calendar": null` makes it 24/7). Tickets
/// already under it keep the terms they copied.
#[utoipa::path(
    patch, path = "/api/v1/sla-policies/{id}", tag = "tickets",
    params(("id" = Uuid, Path, description = "Policy id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read; 412 if it is stale")),
    request_body(content = serde_json::Value, description = "JSON merge patch (RFC 7396) of the policy",
        content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed policy", body = SlaPolicy, headers(("ETag" = String))),
        (status = 400, description = "Bad id or malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such policy", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`duplicate_sla_policy`: another policy covers this priority and category", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid result", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn patch_policy(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    MergePatch(patch): MergePatch,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = if_match(&req)?;
    let updated = apply_merge_patch(
        expected,
        &patch,
        || async {
            let p = state
                .run(move |conn| tickets::policy(conn, id))
                .await
                .map_err(policy_not_found)?;
            Ok((p.draft, p.version))
        },
        |draft: SlaPolicyDraft, version| {
            let now = rapport_domain::now();
            let state = state.clone();
            async move {
                state
                    .run_write(move |conn| tickets::update_policy(conn, id, version, &draft, now))
                    .await
                    .map_err(policy_not_found)
            }
        },
    )
    .await?;
    Ok(versioned(StatusCode::OK, &updated))
}

/// Delete an SLA policy. Tickets keep the terms they copied from it.
#[utoipa::path(
    delete, path = "/api/v1/sla-policies/{id}", tag = "tickets",
    params(("id" = Uuid, Path, description = "Policy id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such policy", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_policy(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    state
        .run_write(move |conn| tickets::delete_policy(conn, id))
        .await
        .map_err(policy_not_found)?;
    Ok(HttpResponse::NoContent().finish())
}
