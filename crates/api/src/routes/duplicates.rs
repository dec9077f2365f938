//! Likely duplicate customers, and merging one into another.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rapport_domain::customer::Customer;
use rapport_domain::duplicates::{self, DuplicateGroup, MergeRecord};
use rapport_store::merge;
use rapport_store::page::{list_key, list_token};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{scope, Auth};
use crate::error::{not_found_as, ApiResult, Problem};
use crate::extract::JsonBody;
use crate::idempotency::{IdempotencyKey, Reply};
use crate::routes::{page_limit, Page};
use crate::AppState;

/// Registered before `/customers/{id}`, whose pattern would take `duplicates` as an id.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/customers/duplicates").get(list_duplicates))
        .service(web::resource("/customers/{id}/merge").post(merge_customer))
        .service(web::resource("/customers/{id}/merges").get(list_merges));
}

/// Paging of the duplicate list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DuplicatesQuery {
    /// Groups per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Where a page of duplicate groups ends: the last group's reason and key.
#[derive(Serialize, Deserialize)]
struct GroupCursor {
    r: duplicates::DuplicateReason,
    k: String,
}

/// Groups of live customers that look like one person: the same e-mail, the same phone, or
/// near-identical names (case and accents aside) in the same city. Each group lists its
/// customers oldest first, with the reason and a score.
#[utoipa::path(
    get, path = "/api/v1/customers/duplicates", tag = "customers",
    params(DuplicatesQuery),
    responses(
        (status = 200, description = "A page of duplicate groups, by reason then key", body = Page<DuplicateGroup>),
        (status = 403, description = "Lacks `customers:read`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_duplicates(
    _auth: Auth<scope::CustomersRead>,
    state: web::Data<AppState>,
    query: web::Query<DuplicatesQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = page_limit(q.limit)? as usize;
    let after = q
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| list_key::<GroupCursor>(Some(&c), "duplicates"))
        .transpose()?
        .flatten();
    let groups = state
        .run(merge::candidates)
        .await
        .map(|c| duplicates::find(&c))?;
    let start = match &after {
        None => 0,
        Some(a) => groups.partition_point(|g| (g.reason, g.key.as_str()) <= (a.r, a.k.as_str())),
    };
    let page: Vec<DuplicateGroup> = groups.iter().skip(start).take(limit).cloned().collect();
    let next_cursor = if start + page.len() < groups.len() {
        page.last().map(|g| {
            list_token(
                "duplicates",
                &GroupCursor {
                    r: g.reason,
                    k: g.key.clone(),
                },
            )
        })
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(Page {
        data: page,
        next_cursor,
    }))
}

/// What to merge into the customer in the path.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The duplicate: it disappears into the survivor.
    pub duplicate_id: Uuid,
}

/// The outcome of a merge.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeOutcome {
    /// The survivor as it now is.
    pub customer: Customer,
    pub merge: MergeRecord,
}

/// Merge a duplicate into this customer, in one transaction: the duplicate's interactions move
/// here, its blank-filling fields, contact points and tags join, its id, e-mail and phone become
/// aliases (lookups by them find this customer), the merge is recorded, and the duplicate is gone.
#[utoipa::path(
    post, path = "/api/v1/customers/{id}/merge", tag = "customers",
    params(IdempotencyKey, ("id" = Uuid, Path, description = "The survivor's id")),
    request_body = MergeRequest,
    responses(
        (status = 200, description = "Merged", body = MergeOutcome, headers(("ETag" = String))),
        (status = 403, description = "Lacks `customers:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such survivor", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`customer_archived` (the survivor is archived), `merge_self` (the same customer, also through a merged id), `idempotency_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such duplicate", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn merge_customer(
    auth: Auth<scope::CustomersWrite>,
    state: web::Data<AppState>,
    http: HttpRequest,
    id: web::Path<Uuid>,
    JsonBody(req): JsonBody<MergeRequest>,
) -> ApiResult<HttpResponse> {
    let survivor = id.into_inner();
    let by = Some(auth.principal.subject.label());
    let now = rapport_domain::now();
    let (_, res) = state
        .write_reply(
            &http,
            move |conn| {
                let (customer, merge) = merge::merge(conn, survivor, req.duplicate_id, by, now)?;
                Ok(MergeOutcome { customer, merge })
            },
            |outcome| {
                Reply::build(StatusCode::OK)
                    .etag(outcome.customer.version)
                    .json(outcome)
            },
        )
        .await
        .map_err(not_found_as("customer"))?;
    Ok(res)
}

/// The merges this customer survived, newest first, each with the duplicate as it was.
#[utoipa::path(
    get, path = "/api/v1/customers/{id}/merges", tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The merges", body = Vec<MergeRecord>),
        (status = 403, description = "Lacks `customers:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_merges(
    _auth: Auth<scope::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let merges = state
        .run(move |conn| merge::merges_of(conn, id))
        .await
        .map_err(not_found_as("customer"))?;
    Ok(HttpResponse::Ok().json(merges))
}
