//! A ticket's conversation: replies and internal notes.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rapport_domain::ticket::{Message, MessageDraft, Visibility};
use rapport_store::tickets;
use uuid::Uuid;
use validator::Validate;

use super::{staff_actor, ticket_not_found, TicketReader, TicketWriter};
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::JsonBody;
use crate::idempotency::{IdempotencyKey, Reply};
use crate::routes::{Page, PageQuery};
use crate::AppState;

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
        (status = 403, description = "Lacks `tickets:write` or `tickets:portal`; or an internal note from a customer-facing key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ticket_closed`, `reopen_window_closed` (a customer's reply to a ticket solved longer ago than the window), `idempotency_in_progress`", body = Problem, content_type = "application/problem+json"),
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
