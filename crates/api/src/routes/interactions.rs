//! `/api/v1/interactions`: the contact history (purchases among it), and per customer the
//! timeline and the purchase summary.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use rapport_domain::customer::Channel;
use rapport_domain::interaction::{
    Agent, Interaction, InteractionDraft, InteractionKind, PurchaseSummary,
};
use rapport_store::interactions::{self, InteractionFilter, TimeOrder};
use rapport_store::timeline;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

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
        web::resource("/interactions")
            .get(list_interactions)
            .post(create_interaction),
    )
    .service(
        web::resource("/interactions/{id}")
            .get(get_interaction)
            .patch(patch_interaction)
            .delete(delete_interaction),
    )
    .service(web::resource("/customers/{id}/timeline").get(customer_timeline))
    .service(web::resource("/customers/{id}/purchase-summary").get(purchase_summary));
}

fn not_found(e: ApiError) -> ApiError {
    crate::error::not_found_as("interaction")(e)
}

/// Who is recording: the caller.
pub(crate) fn agent_of(p: &Principal) -> Agent {
    match p.subject {
        Subject::User(id) => Agent::User(id),
        Subject::ApiKey(id) => Agent::ApiKey(id),
    }
}

/// Record an interaction. With an `external_ref` already recorded for the same `source`, nothing
/// is written and the existing interaction is returned with 200.
#[utoipa::path(
    post, path = "/api/v1/interactions", tag = "interactions",
    params(IdempotencyKey),
    request_body = InteractionDraft,
    responses(
        (status = 201, description = "Recorded", body = Interaction,
            headers(("ETag" = String), ("Location" = String))),
        (status = 200, description = "Already recorded under this source and external_ref: the existing one", body = Interaction,
            headers(("ETag" = String), ("Location" = String))),
        (status = 403, description = "Lacks `interactions:write`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`customer_archived`, or `idempotency_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or no such customer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_interaction(
    auth: Auth<scope::InteractionsWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(draft): JsonBody<InteractionDraft>,
) -> ApiResult<HttpResponse> {
    let draft = draft.parse()?;
    let agent = agent_of(&auth.principal);
    let now = rapport_domain::now();
    let (recorded, res) = state
        .write_reply(
            &req,
            move |conn| interactions::insert(conn, &draft, Some(agent), now),
            |recorded| {
                let interaction = &recorded.interaction;
                let status = if recorded.created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                Reply::build(status)
                    .location(format!("/api/v1/interactions/{}", interaction.id))
                    .versioned(interaction)
            },
        )
        .await?;
    if recorded.created {
        state.metrics.interactions_created.inc();
    }
    if let Some(entry) = &recorded.earned {
        state.metrics.loyalty_entry(entry);
    }
    Ok(res)
}

/// Get an interaction.
#[utoipa::path(
    get, path = "/api/v1/interactions/{id}", tag = "interactions",
    params(("id" = Uuid, Path, description = "Interaction id")),
    responses(
        (status = 200, description = "The interaction", body = Interaction, headers(("ETag" = String))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 403, description = "Lacks `interactions:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such interaction", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_interaction(
    _auth: Auth<scope::InteractionsRead>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let interaction = state
        .run(move |conn| interactions::get(conn, id))
        .await
        .map_err(not_found)?;
    Ok(read_versioned(&req, &interaction))
}

/// Order of an interaction list or export.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
pub enum InteractionSort {
    #[default]
    #[serde(rename = "-occurred_at")]
    OccurredDesc,
    #[serde(rename = "occurred_at")]
    OccurredAsc,
}

impl From<InteractionSort> for TimeOrder {
    fn from(s: InteractionSort) -> Self {
        match s {
            InteractionSort::OccurredDesc => TimeOrder::Desc,
            InteractionSort::OccurredAsc => TimeOrder::Asc,
        }
    }
}

/// Filters and paging of the interaction list (the export takes the same filters).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListInteractionsQuery {
    /// Interactions with this customer.
    pub customer_id: Option<Uuid>,
    pub channel: Option<Channel>,
    pub kind: Option<InteractionKind>,
    /// Interactions of (or purchases attributed to) this campaign.
    pub campaign_id: Option<Uuid>,
    /// Records from this source system.
    pub source: Option<String>,
    /// The record with this external reference (in `source`, `api` by default).
    pub external_ref: Option<String>,
    /// Occurred at or after this instant (RFC 3339).
    pub occurred_after: Option<DateTime<Utc>>,
    /// Occurred strictly before this instant (RFC 3339).
    pub occurred_before: Option<DateTime<Utc>>,
    /// `-occurred_at` (default, newest first) or `occurred_at`.
    pub sort: Option<InteractionSort>,
    /// The list's page size (documented by [`LimitQuery`], as the export takes none).
    #[param(ignore)]
    pub limit: Option<i64>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// The page size of a list whose other parameters another operation shares.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

impl ListInteractionsQuery {
    pub fn filter(&self) -> InteractionFilter {
        let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let source = given(&self.source);
        let external_ref = given(&self.external_ref);
        InteractionFilter {
            customer_id: self.customer_id,
            channel: self.channel,
            kind: self.kind,
            campaign_id: self.campaign_id,
            source: match (&source, &external_ref) {
                (None, Some(_)) => Some(rapport_domain::interaction::DEFAULT_SOURCE.to_owned()),
                _ => source,
            },
            external_ref,
            occurred_from: self.occurred_after,
            occurred_to: self.occurred_before,
        }
    }
}

/// List interactions, newest first by default, with keyset pagination.
#[utoipa::path(
    get, path = "/api/v1/interactions", tag = "interactions",
    params(ListInteractionsQuery, LimitQuery),
    responses(
        (status = 200, description = "A page of interactions", body = Page<Interaction>),
        (status = 403, description = "Lacks `interactions:read`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_interactions(
    _auth: Auth<scope::InteractionsRead>,
    state: web::Data<AppState>,
    query: web::Query<ListInteractionsQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let order = TimeOrder::from(q.sort.unwrap_or_default());
    let filter = q.filter();
    let cursor = q.cursor.filter(|c| !c.is_empty());
    let page = state
        .run(move |conn| interactions::list(conn, &filter, order, cursor.as_deref(), limit))
        .await?;
    Ok(HttpResponse::Ok().json(Page::from(page)))
}

/// Change an interaction with a JSON merge patch (RFC 7396). `If-Match` guards against lost
/// updates. The purchase summaries of the customers concerned follow.
#[utoipa::path(
    patch, path = "/api/v1/interactions/{id}", tag = "interactions",
    params(
        ("id" = Uuid, Path, description = "Interaction id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read; 412 if it is stale"),
    ),
    request_body(content = InteractionDraft, content_type = "application/merge-patch+json",
        description = "Fields to change; `null` removes a field"),
    responses(
        (status = 200, description = "The changed interaction", body = Interaction, headers(("ETag" = String))),
        (status = 403, description = "Lacks `interactions:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such interaction", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`customer_archived` (moved to an archived customer), `duplicate_external_ref`, `concurrent_update` (kept changing; retry)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid result", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn patch_interaction(
    _auth: Auth<scope::InteractionsWrite>,
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
            let current = state
                .run(move |conn| interactions::get(conn, id))
                .await
                .map_err(not_found)?;
            Ok((current.draft, current.version))
        },
        |draft: InteractionDraft, version| {
            let now = rapport_domain::now();
            let state = state.clone();
            async move {
                let (updated, moved) = state
                    .run_write(move |conn| interactions::update(conn, id, version, &draft, now))
                    .await
                    .map_err(not_found)?;
                // Points a changed purchase gave back or earned anew count like any others.
                for entry in &moved {
                    state.metrics.loyalty_entry(entry);
                }
                Ok(updated)
            }
        },
    )
    .await?;
    Ok(versioned(StatusCode::OK, &updated))
}

/// Delete an interaction. The customer's purchase summary follows.
#[utoipa::path(
    delete, path = "/api/v1/interactions/{id}", tag = "interactions",
    params(
        ("id" = Uuid, Path, description = "Interaction id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read; 412 if it is stale"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Lacks `interactions:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such interaction", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_interaction(
    _auth: Auth<scope::InteractionsWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = if_match(&req)?;
    let reversed = state
        .run_write(move |conn| interactions::delete(conn, id, expected))
        .await
        .map_err(not_found)?;
    for entry in &reversed {
        state.metrics.loyalty_entry(entry);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// One event on a customer's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEvent {
    /// What kind of record: `interaction`, `loyalty_entry` or `ticket_event` (campaigns add theirs).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The record's id.
    pub id: Uuid,
    #[serde(serialize_with = "rapport_domain::time::serialize")]
    pub occurred_at: DateTime<Utc>,
    /// The record as its own endpoint returns it.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

fn customer_not_found(e: ApiError) -> ApiError {
    crate::error::not_found_as("customer")(e)
}

/// The query of a timeline: a page, and which kinds of event.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Opaque cursor from the previous page's `next_cursor` (valid with any `kinds`).
    pub cursor: Option<String>,
    /// Comma-separated kinds of event to include: `interaction` (needs `interactions:read`),
    /// `loyalty_entry` (`loyalty:read`), `ticket_event` (`tickets:read`). Absent: every kind the
    /// credential may read (an empty value too); asking for a kind it may not read is a 403.
    #[param(
        pattern = "^((interaction|loyalty_entry|ticket_event)(,(interaction|loyalty_entry|ticket_event))*)?$"
    )]
    pub kinds: Option<String>,
}

/// The timeline sources the caller asked for and may see.
fn timeline_sources(
    principal: &crate::auth::Principal,
    kinds: Option<&str>,
) -> ApiResult<Vec<&'static dyn timeline::TimelineSource>> {
    let Some(kinds) = kinds.filter(|k| !k.is_empty()) else {
        return Ok(timeline::SOURCES
            .iter()
            .copied()
            .filter(|s| principal.scopes.allows(s.scope()))
            .collect());
    };
    let mut chosen: Vec<&'static dyn timeline::TimelineSource> = Vec::new();
    for kind in kinds.split(',') {
        let Some(source) = timeline::SOURCES.iter().copied().find(|s| s.kind() == kind) else {
            let known: Vec<&str> = timeline::SOURCES.iter().map(|s| s.kind()).collect();
            return Err(ApiError::new(
                Code::InvalidQuery,
                format!("kinds: unknown kind `{kind}`; known: {}", known.join(", ")),
            ));
        };
        principal.require(source.scope())?;
        if !chosen.iter().any(|s| s.kind() == kind) {
            chosen.push(source);
        }
    }
    Ok(chosen)
}

/// Everything about a customer, newest first, in one paginated stream: the kinds of event the
/// credential may read (see `kinds`). A merged duplicate's id gives the survivor's timeline.
#[utoipa::path(
    get, path = "/api/v1/customers/{id}/timeline", tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id"), TimelineQuery),
    responses(
        (status = 200, description = "A page of the timeline", body = Page<TimelineEvent>),
        (status = 400, description = "Bad id, query, kind or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `customers:read`, or the scope of a kind asked for", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn customer_timeline(
    auth: Auth<scope::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<TimelineQuery>,
) -> ApiResult<HttpResponse> {
    let TimelineQuery {
        limit,
        cursor,
        kinds,
    } = query.into_inner();
    let sources = timeline_sources(&auth.principal, kinds.as_deref())?;
    let (limit, cursor) = PageQuery { limit, cursor }.limit_and_cursor()?;
    let id = id.into_inner();
    let page = state
        .run(move |conn| timeline::page(conn, id, &sources, cursor.as_deref(), limit))
        .await
        .map_err(customer_not_found)?;
    Ok(HttpResponse::Ok().json(Page {
        data: page
            .items
            .into_iter()
            .map(|e| TimelineEvent {
                kind: e.kind,
                id: e.id,
                occurred_at: e.occurred_at,
                data: e.data,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// What a customer has bought: count, first and last purchase, totals per currency. Derived
/// from the purchase interactions on every write; a merged duplicate's id gives the survivor's.
#[utoipa::path(
    get, path = "/api/v1/customers/{id}/purchase-summary", tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The purchase summary", body = PurchaseSummary),
        (status = 403, description = "Lacks `customers:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn purchase_summary(
    _auth: Auth<scope::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let summary = state
        .run(move |conn| interactions::purchase_summary(conn, id))
        .await
        .map_err(customer_not_found)?;
    Ok(HttpResponse::Ok().json(summary))
}
