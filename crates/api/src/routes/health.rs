//! Ops endpoints: liveness, readiness, Prometheus metrics. No credentials needed (metrics can
//! be made to require an admin credential).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, Problem};
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // HEAD answers like GET (load balancers probe with it); actix sends no body for HEAD.
    cfg.service(
        web::resource("/health/live")
            .get(live)
            .route(web::head().to(live)),
    )
    .service(
        web::resource("/health/ready")
            .get(ready)
            .route(web::head().to(ready)),
    )
    .service(web::resource("/metrics").get(metrics));
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(method(get, head), path = "/health/live", tag = "ops", security(()),
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database is reachable and every migration is applied.
#[utoipa::path(method(get, head), path = "/health/ready", tag = "ops", security(()),
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn ready(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let db = state.db.clone();
    match web::block(move || db.check_ready()).await? {
        Ok(()) => Ok(HttpResponse::Ok().json(Health { status: "ready" })),
        Err(e) => Err(ApiError::Unavailable(e.into())),
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "ops", security(()),
    responses(
        (status = 200, description = "Metrics", body = String, content_type = "text/plain"),
        (status = 401, description = "Metrics require a credential here", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    if !state.config.metrics_public {
        let principal = crate::auth::authenticate(&req, &state).await?;
        principal.require(rapport_domain::auth::Scope::Admin)?;
    }
    let (in_use, idle) = state.db.pool_state();
    state.metrics.pool_in_use.set(i64::from(in_use));
    state.metrics.pool_idle.set(i64::from(idle));
    state
        .metrics
        .pool_max
        .set(i64::from(state.db.pool_max_size()));
    let now = rapport_domain::now();
    if let Ok((first, resolution)) = state
        .run(move |conn| rapport_store::tickets::breached_counts(conn, now))
        .await
    {
        let g = &state.metrics.tickets_sla_breached;
        g.with_label_values(&["first_response"]).set(first);
        g.with_label_values(&["resolution"]).set(resolution);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render()))
}
