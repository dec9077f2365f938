//! A ticket's events: its history, and a customer's ticket events for the timeline.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rapport_domain::ticket::{Actor, TicketEvent, TicketEventKind};
use uuid::Uuid;

use super::corrupt;
use crate::db::DbConn;
use crate::page::Page;
use crate::schema::ticket_events;
use crate::types::{DbTime, DbUuid};
use crate::StoreResult;

type EventRow = (
    DbUuid,
    DbUuid,
    DbUuid,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<DbUuid>,
    DbTime,
);

macro_rules! event_columns {
    () => {
        (
            ticket_events::id,
            ticket_events::ticket_id,
            ticket_events::customer_id,
            ticket_events::kind,
            ticket_events::from_value,
            ticket_events::to_value,
            ticket_events::actor_type,
            ticket_events::actor_id,
            ticket_events::created_at,
        )
    };
}

fn event_of(r: EventRow) -> StoreResult<TicketEvent> {
    let (id, ticket, customer, kind, from, to, actor_type, actor_id, at) = r;
    Ok(TicketEvent {
        id: id.0,
        ticket_id: ticket.0,
        customer_id: customer.0,
        kind: TicketEventKind::parse(&kind).ok_or_else(|| corrupt("ticket_events.kind", &kind))?,
        from,
        to,
        actor: match (actor_type, actor_id) {
            (Some(k), Some(id)) => Actor::from_parts(&k, id.0),
            _ => None,
        },
        at: at.0,
    })
}

/// A ticket's events, oldest first.
pub fn events(
    conn: &mut DbConn,
    ticket_id: Uuid,
    cursor: Option<&str>,
    limit: i64,
) -> StoreResult<Page<TicketEvent>> {
    let after: Option<Uuid> = crate::page::list_key(cursor, "ticket_events")?;
    let mut q = ticket_events::table
        .filter(ticket_events::ticket_id.eq(DbUuid(ticket_id)))
        .select(event_columns!())
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(ticket_events::id.gt(DbUuid(a)));
    }
    let rows: Vec<EventRow> =
        crate::page::limited(q.order(ticket_events::id), limit + 1).load(conn)?;
    Page::from_rows(rows, limit, event_of, |t| {
        crate::page::list_token("ticket_events", t.id)
    })
}

/// A customer's ticket events strictly before `(at, id)`, newest first (for the timeline).
pub(crate) fn customer_events(
    conn: &mut DbConn,
    customer_id: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StoreResult<Vec<TicketEvent>> {
    let mut q = ticket_events::table
        .filter(ticket_events::customer_id.eq(DbUuid(customer_id)))
        .select(event_columns!())
        .into_boxed();
    if let Some((k, id)) = before {
        q = q.filter(ticket_events::created_at.le(DbTime(k))).filter(
            ticket_events::created_at
                .lt(DbTime(k))
                .or(ticket_events::id.lt(DbUuid(id))),
        );
    }
    let rows: Vec<EventRow> = crate::page::limited(
        q.order((ticket_events::created_at.desc(), ticket_events::id.desc())),
        limit,
    )
    .load(conn)?;
    rows.into_iter().map(event_of).collect()
}
