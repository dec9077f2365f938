//! SLA policies: `/api/v1/sla-policies`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rapport_domain::ticket::{SlaPolicy, SlaPolicyDraft};
use rapport_store::tickets;
use uuid::Uuid;

use crate::auth::{scope, Auth};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{
    apply_merge_patch, if_match, read_versioned, versioned, JsonBody, MergePatch,
};
use crate::idempotency::{IdempotencyKey, Reply};
use crate::routes::Page;
use crate::AppState;

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
        (status = 403, description = "Lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`duplicate_sla_policy`: another policy covers this priority and category", body = Problem, content_type = "application/problem+json"),
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
    request_body(content = SlaPolicyDraft, description = "JSON merge patch (RFC 7396) of the policy",
        content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed policy", body = SlaPolicy, headers(("ETag" = String))),
        (status = 403, description = "Lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such policy", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`duplicate_sla_policy`: another policy covers this priority and category", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
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
