//! Support tickets: `/api/v1/tickets` with their messages, events, related history, satisfaction
//! rating and stats; `/api/v1/sla-policies`; `/api/v1/tickets/settings`; and a customer's tickets.
//!
//! Two kinds of caller: staff (`tickets:read` / `tickets:write`) see everything; a
//! customer-facing integration (`tickets:portal`, e.g. a customer portal's back end) sees tickets
//! and their public replies only, opens tickets and replies as the customer, and rates solved
//! tickets.

pub mod events;
pub mod messages;
pub mod policies;
pub mod satisfaction;
pub mod settings;
pub mod stats;
pub mod ticket;

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use rapport_domain::auth::Scope;
use rapport_domain::ticket::Actor;

use self::events::list_events;
use self::messages::{add_message, list_messages};
use self::policies::{create_policy, delete_policy, get_policy, list_policies, patch_policy};
use self::satisfaction::rate_ticket;
use self::settings::{get_settings, put_settings};
use self::stats::ticket_stats;
use self::ticket::{
    create_ticket, customer_tickets, get_ticket, list_tickets, patch_ticket, related_tickets,
};
use crate::auth::{Principal, Subject};
use crate::error::{ApiError, Code};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tickets")
            .get(list_tickets)
            .post(create_ticket),
    )
    .service(web::resource("/tickets/stats").get(ticket_stats))
    .service(
        web::resource("/tickets/settings")
            .get(get_settings)
            .put(put_settings),
    )
    .service(
        web::resource("/tickets/{id}")
            .get(get_ticket)
            .patch(patch_ticket),
    )
    .service(
        web::resource("/tickets/{id}/messages")
            .get(list_messages)
            .post(add_message),
    )
    .service(web::resource("/tickets/{id}/events").get(list_events))
    .service(web::resource("/tickets/{id}/related").get(related_tickets))
    .service(web::resource("/tickets/{id}/satisfaction").post(rate_ticket))
    .service(web::resource("/customers/{id}/tickets").get(customer_tickets))
    .service(
        web::resource("/sla-policies")
            .get(list_policies)
            .post(create_policy),
    )
    .service(
        web::resource("/sla-policies/{id}")
            .get(get_policy)
            .patch(patch_policy)
            .delete(delete_policy),
    );
}

/// Who is reading or writing tickets: staff, or the customer through a `tickets:portal` key.
pub struct TicketCaller {
    pub principal: Principal,
    /// Staff (`tickets:read`, or `tickets:write` for writes): internal notes and events are theirs.
    pub staff: bool,
}

fn caller(req: &HttpRequest, staff_scope: Scope) -> Result<TicketCaller, ApiError> {
    let p = req
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ApiError::new(Code::Unauthorized, "authentication required"))?;
    if p.scopes.allows(staff_scope) {
        Ok(TicketCaller {
            principal: p,
            staff: true,
        })
    } else if p.scopes.allows(Scope::TicketsPortal) {
        Ok(TicketCaller {
            principal: p,
            staff: false,
        })
    } else {
        Err(ApiError::new(
            Code::Forbidden,
            format!("this credential lacks the `{staff_scope}` or `tickets:portal` scope"),
        ))
    }
}

/// Reads: `tickets:read` (staff) or `tickets:portal` (customer-facing).
pub struct TicketReader(pub TicketCaller);

impl FromRequest for TicketReader {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req, Scope::TicketsRead).map(TicketReader))
    }
}

/// Writes: `tickets:write` (staff) or `tickets:portal` (as the customer).
pub struct TicketWriter(pub TicketCaller);

impl FromRequest for TicketWriter {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req, Scope::TicketsWrite).map(TicketWriter))
    }
}

fn staff_actor(p: &Principal) -> Actor {
    match p.subject {
        Subject::User(id) => Actor::User(id),
        Subject::ApiKey(id) => Actor::ApiKey(id),
    }
}

fn ticket_not_found(e: ApiError) -> ApiError {
    crate::error::not_found_as("ticket")(e)
}
