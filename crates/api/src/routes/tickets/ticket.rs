//! The tickets themselves: open, read, change and list them, a customer's tickets, and a ticket's
//! related history.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use rapport_domain::ticket::{
    Actor, Priority, Ticket, TicketDraft, TicketStatus, INITIAL_STATUSES,
};
use rapport_store::tickets::{self, TicketFilter, TicketOrder};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{staff_actor, ticket_not_found, TicketReader, TicketWriter};
use crate::auth::{scope, Auth};
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::{apply_merge_patch, if_match, versioned, JsonBody, MergePatch};
use crate::idempotency::{IdempotencyKey, Reply};
use crate::routes::{page_limit, Page, PageQuery};
use crate::AppState;

/// Open a ticket. The SLA policy for its priority and category (if any) sets its due times. A
/// customer-facing key opens it as the customer: `new`, unassigned.
#[utoipa::path(
    post, path = "/api/v1/tickets", tag = "tickets",
    params(IdempotencyKey),
    request_body = TicketDraft,
    responses(
        (status = 201, description = "Opened", body = Ticket, headers(("Location" = String), ("ETag" = String))),
        (status = 403, description = "Lacks `tickets:write` or `tickets:portal`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`customer_archived`, or `idempotency_in_progress`", body = Problem, content_type = "application/problem+json"),
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
    request_body(content = TicketDraft, description = "JSON merge patch (RFC 7396) of the ticket's writable fields",
        content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed ticket", body = Ticket, headers(("ETag" = String))),
        (status = 403, description = "Lacks `tickets:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition` or `reopen_window_closed` (with `allowed_statuses`), `ticket_closed`, `customer_archived`, `concurrent_update`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
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
    /// Statuses, any of them: comma-separated (`new,open`) or repeated (`status=new&status=open`);
    /// an empty value filters nothing.
    #[serde(default)]
    #[param(
        pattern = "^((new|open|pending|on_hold|solved|closed)(,(new|open|pending|on_hold|solved|closed))*)?$"
    )]
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
        .filter(|v| !v.is_empty())
        .flat_map(|v| v.split(','))
        .map(|s| {
            TicketStatus::parse(s).ok_or_else(|| {
                ApiError::new(
                    Code::InvalidQuery,
                    format!(
                        "unknown status `{s}`; statuses are new, open, pending, on_hold, solved, closed"
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
