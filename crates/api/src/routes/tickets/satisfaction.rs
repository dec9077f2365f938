//! The customer's satisfaction rating (CSAT) of a ticket.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rapport_domain::ticket::{CsatDraft, Ticket};
use rapport_store::tickets;
use uuid::Uuid;
use validator::Validate;

use super::ticket_not_found;
use crate::auth::{scope, Auth};
use crate::error::{ApiResult, Problem};
use crate::extract::JsonBody;
use crate::idempotency::{IdempotencyKey, Reply};
use crate::AppState;

/// The customer's satisfaction rating (CSAT) of a solved or closed ticket, once; through the
/// customer-facing scope.
#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/satisfaction", tag = "tickets",
    params(IdempotencyKey, ("id" = Uuid, Path, description = "Ticket id")),
    request_body = CsatDraft,
    responses(
        (status = 200, description = "The rated ticket", body = Ticket, headers(("ETag" = String))),
        (status = 403, description = "Lacks `tickets:portal`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ticket_not_solved`, `already_rated`, `idempotency_in_progress`", body = Problem, content_type = "application/problem+json"),
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
