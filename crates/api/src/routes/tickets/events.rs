//! A ticket's history of changes.

use actix_web::{web, HttpResponse};
use rapport_domain::ticket::TicketEvent;
use rapport_store::tickets;
use uuid::Uuid;

use super::ticket_not_found;
use crate::auth::{scope, Auth};
use crate::error::{ApiResult, Problem};
use crate::routes::{Page, PageQuery};
use crate::AppState;

/// A ticket's history: every change of status, priority, assignee and category (who, when,
/// from, to), the first response and the rating; oldest first.
#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/events", tag = "tickets",
    params(("id" = Uuid, Path, description = "Ticket id"), PageQuery),
    responses(
        (status = 200, description = "A page of events", body = Page<TicketEvent>),
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
