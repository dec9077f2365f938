//! The customer's satisfaction rating (CSAT) of a ticket.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rapport_domain::conflict::Conflict;
use rapport_domain::ticket::{Actor, Csat, CsatDraft, Ticket, TicketEventKind, TicketStatus};
use uuid::Uuid;

use super::{event, get};
use crate::customers::lock_customers;
use crate::db::DbConn;
use crate::schema::tickets;
use crate::types::{DbJson, DbTime, DbUuid};
use crate::{StoreError, StoreResult};

/// Records the customer's rating of a solved (or closed) ticket, once:
/// `Conflict::TicketNotSolved` before, `Conflict::AlreadyRated` the second time.
/// `actor: None` is the ticket's customer.
pub fn rate(
    conn: &mut DbConn,
    ticket_id: Uuid,
    d: &CsatDraft,
    actor: Option<Actor>,
    now: DateTime<Utc>,
) -> StoreResult<Ticket> {
    conn.transaction(|conn| {
        // The customer row first, as every ticket write takes it (else a concurrent PATCH and
        // this deadlock on PostgreSQL), then the ticket as it is now.
        let seen = get(conn, ticket_id, now)?;
        lock_customers(conn, &[seen.draft.customer_id])?;
        let t = get(conn, ticket_id, now)?;
        if !t.draft.status.is_done() {
            return Err(StoreError::Conflict(Conflict::TicketNotSolved));
        }
        let actor = actor.unwrap_or(Actor::Customer(t.draft.customer_id));
        // Conditional on no rating yet: two concurrent ratings cannot both land.
        let csat = Csat {
            rating: d.rating,
            comment: d.comment.clone(),
            rated_at: now,
        };
        let n = diesel::update(
            tickets::table
                .find(DbUuid(ticket_id))
                .filter(tickets::csat.is_null())
                .filter(
                    tickets::status
                        .eq_any([TicketStatus::Solved.as_str(), TicketStatus::Closed.as_str()]),
                ),
        )
        .set((
            tickets::csat.eq(Some(DbJson::of(&csat))),
            tickets::version.eq(tickets::version + 1),
            tickets::updated_at.eq(DbTime(now)),
        ))
        .execute(conn)?;
        if n == 0 {
            return Err(StoreError::Conflict(Conflict::AlreadyRated));
        }
        event(
            conn,
            &t.draft,
            ticket_id,
            TicketEventKind::Rated,
            None,
            Some(&d.rating.to_string()),
            Some(actor),
            now,
        )?;
        get(conn, ticket_id, now)
    })
}
