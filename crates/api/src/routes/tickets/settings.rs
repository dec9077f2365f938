//! The desk's settings: `/api/v1/tickets/settings`.

use actix_web::{web, HttpResponse};
use rapport_domain::ticket::DeskSettings;
use rapport_store::tickets;
use validator::Validate;

use crate::auth::{scope, Auth};
use crate::error::{ApiResult, Problem};
use crate::extract::JsonBody;
use crate::AppState;

/// The desk's settings.
#[utoipa::path(
    get, path = "/api/v1/tickets/settings", tag = "tickets",
    responses(
        (status = 200, description = "The settings", body = DeskSettings),
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
        (status = 403, description = "Lacks `admin`", body = Problem, content_type = "application/problem+json"),
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
