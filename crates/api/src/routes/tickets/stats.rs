//! The desk's numbers: `/api/v1/tickets/stats`.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use rapport_domain::ticket::{StatsPeriod, TicketStats};
use rapport_store::tickets;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{scope, Auth};
use crate::error::{ApiResult, Problem};
use crate::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Tickets created at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Tickets created strictly before (RFC 3339). A `to` at or before `from` is an empty range:
    /// a report of no tickets.
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
        (status = 403, description = "Lacks `tickets:read`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ticket_stats(
    _auth: Auth<scope::TicketsRead>,
    state: web::Data<AppState>,
    query: web::Query<StatsQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let now = rapport_domain::now();
    let (from, to) = (q.from, q.to);
    let facts = state
        .run(move |conn| tickets::stats_rows(conn, from, to, now))
        .await?;
    let report =
        rapport_domain::ticket::stats(&facts, from, to, q.period.unwrap_or(StatsPeriod::Month));
    Ok(HttpResponse::Ok().json(report))
}
