//! A ticket's messages: replies and internal notes, and what a reply does to the ticket.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rapport_domain::conflict::Conflict;
use rapport_domain::ticket::{
    check_transition, Actor, Message, MessageDraft, Ticket, TicketEventKind, TicketStatus,
    Visibility,
};
use uuid::Uuid;

use super::{
    corrupt, derive, desk_settings, event, get, load, move_status, refused, sla_of, StatusClock,
};
use crate::customers::lock_customers;
use crate::db::DbConn;
use crate::page::Page;
use crate::schema::{ticket_messages, tickets};
use crate::types::{DbJson, DbTime, DbUuid};
use crate::{StoreError, StoreResult};

type MessageRow = (DbUuid, DbUuid, String, String, DbUuid, String, DbTime);

fn message_of(r: MessageRow) -> StoreResult<Message> {
    let (id, ticket, visibility, author_type, author_id, body, at) = r;
    Ok(Message {
        id: id.0,
        ticket_id: ticket.0,
        visibility: Visibility::parse(&visibility)
            .ok_or_else(|| corrupt("ticket_messages.visibility", &visibility))?,
        author: Actor::from_parts(&author_type, author_id.0)
            .ok_or_else(|| corrupt("ticket_messages.author_type", &author_type))?,
        body,
        created_at: at.0,
    })
}

/// Adds a reply or note. The first public reply by staff stamps the first response (and opens a
/// `new` ticket); a customer's reply to a `pending` ticket opens it again. A closed ticket takes
/// no more messages (`Conflict::TicketClosed`). `author: None` is the ticket's customer.
/// Returns the message, the ticket after it, and the status it moved from if it moved.
pub fn add_message(
    conn: &mut DbConn,
    ticket_id: Uuid,
    d: &MessageDraft,
    author: Option<Actor>,
    now: DateTime<Utc>,
) -> StoreResult<(Message, Ticket, Option<TicketStatus>)> {
    conn.transaction(|conn| {
        let current = load(conn, ticket_id, now)?;
        lock_customers(conn, &[current.ticket.draft.customer_id])?;
        let current = load(conn, ticket_id, now)?;
        let t = &current.ticket;
        let author = author.unwrap_or(Actor::Customer(t.draft.customer_id));
        if t.draft.status == TicketStatus::Closed {
            return Err(StoreError::Conflict(Conflict::TicketClosed));
        }
        let id = rapport_domain::new_id();
        diesel::insert_into(ticket_messages::table)
            .values((
                ticket_messages::id.eq(DbUuid(id)),
                ticket_messages::ticket_id.eq(DbUuid(ticket_id)),
                ticket_messages::visibility.eq(d.visibility.as_str()),
                ticket_messages::author_type.eq(author.kind()),
                ticket_messages::author_id.eq(DbUuid(author.id())),
                ticket_messages::body.eq(&d.body),
                ticket_messages::created_at.eq(DbTime(now)),
            ))
            .execute(conn)?;
        let public = d.visibility == Visibility::Public;
        let first_response = public && author.is_agent() && t.first_responded_at.is_none();
        let new_status = match t.draft.status {
            TicketStatus::New if public && author.is_agent() => TicketStatus::Open,
            TicketStatus::Pending if !author.is_agent() => TicketStatus::Open,
            // The customer writing back about a solved ticket reopens it, within the window.
            TicketStatus::Solved if !author.is_agent() => {
                let settings = desk_settings(conn)?;
                check_transition(
                    TicketStatus::Solved,
                    TicketStatus::Open,
                    t.solved_at,
                    &settings,
                    now,
                )
                .map_err(refused)?;
                TicketStatus::Open
            }
            s => s,
        };
        if first_response || new_status != t.draft.status {
            let clock = move_status(
                t.draft.status,
                new_status,
                StatusClock {
                    pauses: current.pauses.clone(),
                    solved_at: t.solved_at,
                    closed_at: t.closed_at,
                },
                now,
            );
            let responded = t.first_responded_at.or(first_response.then_some(now));
            let sla = current
                .terms
                .as_ref()
                .map(|terms| {
                    sla_of(
                        terms,
                        t.created_at,
                        &clock.pauses,
                        responded,
                        clock.solved_at,
                        now,
                    )
                })
                .transpose()?;
            let derived = derive(sla.as_ref());
            let n = diesel::update(
                tickets::table
                    .find(DbUuid(ticket_id))
                    .filter(tickets::version.eq(t.version)),
            )
            .set((
                tickets::status.eq(new_status.as_str()),
                tickets::first_responded_at.eq(responded.map(DbTime)),
                tickets::solved_at.eq(clock.solved_at.map(DbTime)),
                tickets::sla_pauses.eq(DbJson::of(&clock.pauses)),
                tickets::first_response_due_at.eq(derived.first_response_due_at),
                tickets::resolution_due_at.eq(derived.resolution_due_at),
                tickets::first_response_breached.eq(derived.first_response_breached),
                tickets::resolution_breached.eq(derived.resolution_breached),
                tickets::version.eq(tickets::version + 1),
                tickets::updated_at.eq(DbTime(now)),
            ))
            .execute(conn)?;
            if n == 0 {
                // Changed between the read and the lock (moved to another customer meanwhile).
                return Err(StoreError::Conflict(Conflict::TicketChanged));
            }
            if first_response {
                event(
                    conn,
                    &t.draft,
                    ticket_id,
                    TicketEventKind::FirstResponse,
                    None,
                    Some(&id.to_string()),
                    Some(author),
                    now,
                )?;
            }
            if new_status != t.draft.status {
                event(
                    conn,
                    &t.draft,
                    ticket_id,
                    TicketEventKind::Status,
                    Some(t.draft.status.as_str()),
                    Some(new_status.as_str()),
                    Some(author),
                    now,
                )?;
            }
        } else {
            diesel::update(tickets::table.find(DbUuid(ticket_id)))
                .set(tickets::updated_at.eq(DbTime(now)))
                .execute(conn)?;
        }
        let message = Message {
            id,
            ticket_id,
            visibility: d.visibility,
            author,
            body: d.body.clone(),
            created_at: now,
        };
        let moved = (new_status != t.draft.status).then_some(t.draft.status);
        Ok((message, get(conn, ticket_id, now)?, moved))
    })
}

/// A ticket's messages, oldest first; internal notes only when `internal`.
pub fn messages(
    conn: &mut DbConn,
    ticket_id: Uuid,
    internal: bool,
    cursor: Option<&str>,
    limit: i64,
) -> StoreResult<Page<Message>> {
    let after: Option<Uuid> = crate::page::list_key(cursor, "ticket_messages")?;
    let mut q = ticket_messages::table
        .filter(ticket_messages::ticket_id.eq(DbUuid(ticket_id)))
        .select((
            ticket_messages::id,
            ticket_messages::ticket_id,
            ticket_messages::visibility,
            ticket_messages::author_type,
            ticket_messages::author_id,
            ticket_messages::body,
            ticket_messages::created_at,
        ))
        .into_boxed();
    if !internal {
        q = q.filter(ticket_messages::visibility.eq(Visibility::Public.as_str()));
    }
    if let Some(a) = after {
        q = q.filter(ticket_messages::id.gt(DbUuid(a)));
    }
    let rows: Vec<MessageRow> =
        crate::page::limited(q.order(ticket_messages::id), limit + 1).load(conn)?;
    Page::from_rows(rows, limit, message_of, |t| {
        crate::page::list_token("ticket_messages", t.id)
    })
}
