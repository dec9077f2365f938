//! Support tickets: the tickets, their events and messages, SLA policies and the desk's settings.
//!
//! A ticket carries its SLA terms (the policy chosen for its priority and category, copied when
//! chosen) and the spans its resolution clock stood still (`sla_pauses`). Both clocks are computed
//! from those by [`rapport_domain::sla::Clock`] whenever a ticket is read. Every write also stores
//! what the clocks say at that moment (due times, breaches), so that lists can filter on breaches
//! and stats can count them without recomputing every ticket: a clock that runs past its due time
//! with no write in between is caught by comparing the stored due time with now.

mod events;
mod messages;
mod policies;
mod satisfaction;
mod settings;
mod stats;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rapport_domain::conflict::Conflict;
use rapport_domain::customer::Channel;
use rapport_domain::sla::{BusinessHours, Clock, ClockState, Pause};
use rapport_domain::ticket::{
    check_transition, Actor, Csat, DeskSettings, Priority, Product, SlaClock, SlaTerms, Ticket,
    TicketDraft, TicketEventKind, TicketSla, TicketStatus, TransitionError,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub(crate) use self::events::customer_events;
pub use self::events::events;
pub use self::messages::{add_message, messages};
use self::policies::policy_for;
pub use self::policies::{create_policy, delete_policy, policies, policy, update_policy};
pub use self::satisfaction::rate;
pub use self::settings::{desk_settings, put_desk_settings};
pub use self::stats::{breached_counts, stats_rows};
use crate::customers::{live_customer, lock_customers};
use crate::db::DbConn;
use crate::page::Page;
use crate::schema::{interactions, ticket_events, ticket_tags, tickets, users};
use crate::types::{DbJson, DbTime, DbUuid};
use crate::{StoreError, StoreResult};

fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value}"))
}

// ---------------------------------------------------------------- the SLA clocks

/// A span the resolution clock stood still, as stored in `sla_pauses`: from, until (none while
/// it lasts), and whether the ticket was solved meanwhile (then the first-response clock stood
/// still too: a ticket solved before anyone answered it, then reopened).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct PauseSpan(DateTime<Utc>, Option<DateTime<Utc>>, bool);

fn clock_view(target: i64, s: ClockState) -> SlaClock {
    SlaClock {
        target_minutes: target,
        due_at: s.due_at,
        met_at: s.met_at,
        remaining_seconds: s.remaining_seconds,
        breached: s.breached,
        paused: s.paused,
    }
}

/// Both clocks of a ticket as of `now`.
fn sla_of(
    terms: &SlaTerms,
    created_at: DateTime<Utc>,
    pauses: &[PauseSpan],
    first_responded_at: Option<DateTime<Utc>>,
    solved_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> StoreResult<TicketSla> {
    let hours = BusinessHours::for_calendar(terms.calendar.as_ref())
        .map_err(|e| corrupt("sla calendar", e))?;
    let spans: Vec<Pause> = pauses
        .iter()
        .map(|p| Pause {
            from: p.0,
            until: p.1,
        })
        .collect();
    // Solving a ticket before anyone answered it (a duplicate, spam, fixed by itself) meets the
    // first-response target too: whichever of the first reply and the solve came first. If it
    // is reopened unanswered, the clock goes on without the time it spent solved.
    let solved_spans: Vec<Pause> = pauses
        .iter()
        .filter(|p| p.2)
        .map(|p| Pause {
            from: p.0,
            until: p.1,
        })
        .collect();
    let first_met = match (first_responded_at, solved_at) {
        (Some(r), Some(s)) => Some(r.min(s)),
        (r, s) => r.or(s),
    };
    let first = Clock {
        target_minutes: terms.first_response_minutes,
        started_at: created_at,
        pauses: &solved_spans,
        met_at: first_met,
    }
    .state(&hours, now);
    let resolution = Clock {
        target_minutes: terms.resolution_minutes,
        started_at: created_at,
        pauses: &spans,
        met_at: solved_at,
    }
    .state(&hours, now);
    Ok(TicketSla {
        policy_id: terms.policy_id,
        policy_name: terms.policy_name.clone(),
        business_hours: !hours.is_always(),
        breached: first.breached || resolution.breached,
        first_response: clock_view(terms.first_response_minutes, first),
        resolution: clock_view(terms.resolution_minutes, resolution),
    })
}

// ---------------------------------------------------------------- tickets

#[derive(Queryable, Selectable)]
#[diesel(table_name = tickets)]
struct Row {
    id: DbUuid,
    customer_id: DbUuid,
    subject: String,
    description: Option<String>,
    channel: String,
    category: Option<String>,
    tags: DbJson,
    priority: String,
    status: String,
    assignee_id: Option<DbUuid>,
    product_model: Option<String>,
    product_serial: Option<String>,
    product_purchased_at: Option<DbTime>,
    purchase_interaction_id: Option<DbUuid>,
    custom_fields: DbJson,
    sla_terms: Option<DbJson>,
    sla_pauses: DbJson,
    first_responded_at: Option<DbTime>,
    solved_at: Option<DbTime>,
    closed_at: Option<DbTime>,
    csat: Option<DbJson>,
    created_by_type: Option<String>,
    created_by_id: Option<DbUuid>,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

/// A ticket as stored, with what the SLA computation needs beside the domain view.
struct Stored {
    ticket: Ticket,
    terms: Option<SlaTerms>,
    pauses: Vec<PauseSpan>,
}

impl Row {
    fn into_stored(self, now: DateTime<Utc>) -> StoreResult<Stored> {
        let t = |v: Option<DbTime>| v.map(|v| v.0);
        let product = Product {
            model: self.product_model,
            serial: self.product_serial,
            purchased_at: t(self.product_purchased_at),
            purchase_interaction_id: self.purchase_interaction_id.map(|v| v.0),
        };
        let draft = TicketDraft {
            customer_id: self.customer_id.0,
            subject: self.subject,
            description: self.description,
            channel: Channel::parse(&self.channel)
                .ok_or_else(|| corrupt("tickets.channel", &self.channel))?,
            category: self.category,
            tags: self.tags.parse().map_err(|e| corrupt("tickets.tags", e))?,
            priority: Priority::parse(&self.priority)
                .ok_or_else(|| corrupt("tickets.priority", &self.priority))?,
            status: TicketStatus::parse(&self.status)
                .ok_or_else(|| corrupt("tickets.status", &self.status))?,
            assignee_id: self.assignee_id.map(|v| v.0),
            product: (product != Product::default()).then_some(product),
            custom_fields: self
                .custom_fields
                .parse()
                .map_err(|e| corrupt("tickets.custom_fields", e))?,
            opened_at: Some(self.created_at.0),
        };
        let terms: Option<SlaTerms> = self
            .sla_terms
            .map(|j| j.parse())
            .transpose()
            .map_err(|e| corrupt("tickets.sla_terms", e))?;
        let pauses: Vec<PauseSpan> = self
            .sla_pauses
            .parse()
            .map_err(|e| corrupt("tickets.sla_pauses", e))?;
        let created_at = self.created_at.0;
        let first_responded_at = t(self.first_responded_at);
        let solved_at = t(self.solved_at);
        let sla = terms
            .as_ref()
            .map(|terms| {
                sla_of(
                    terms,
                    created_at,
                    &pauses,
                    first_responded_at,
                    solved_at,
                    now,
                )
            })
            .transpose()?;
        let created_by = match (self.created_by_type, self.created_by_id) {
            (Some(k), Some(id)) => Actor::from_parts(&k, id.0),
            _ => None,
        };
        let csat: Option<Csat> = self
            .csat
            .map(|j| j.parse())
            .transpose()
            .map_err(|e| corrupt("tickets.csat", e))?;
        Ok(Stored {
            ticket: Ticket {
                id: self.id.0,
                draft,
                sla,
                first_responded_at,
                solved_at,
                closed_at: t(self.closed_at),
                csat,
                created_by,
                created_at,
                updated_at: self.updated_at.0,
                version: self.version,
            },
            terms,
            pauses,
        })
    }
}

fn load(conn: &mut DbConn, id: Uuid, now: DateTime<Utc>) -> StoreResult<Stored> {
    tickets::table
        .find(DbUuid(id))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?
        .into_stored(now)
}

pub fn get(conn: &mut DbConn, id: Uuid, now: DateTime<Utc>) -> StoreResult<Ticket> {
    Ok(load(conn, id, now)?.ticket)
}

/// The references a draft makes must exist: the customer (live), the assignee, and the purchase
/// interaction, which must be the customer's.
fn check_references(conn: &mut DbConn, d: &TicketDraft) -> StoreResult<()> {
    live_customer(conn, d.customer_id)?;
    if let Some(a) = d.assignee_id {
        let found: Option<DbUuid> = users::table
            .find(DbUuid(a))
            .select(users::id)
            .first(conn)
            .optional()?;
        if found.is_none() {
            return Err(StoreError::MissingReference("assignee_id"));
        }
    }
    if let Some(i) = d.product.as_ref().and_then(|p| p.purchase_interaction_id) {
        let owner: Option<DbUuid> = interactions::table
            .find(DbUuid(i))
            .select(interactions::customer_id)
            .first(conn)
            .optional()?;
        if owner.map(|o| o.0) != Some(d.customer_id) {
            return Err(StoreError::MissingReference(
                "product.purchase_interaction_id",
            ));
        }
    }
    Ok(())
}

fn replace_tags(conn: &mut DbConn, id: Uuid, tags: &[String]) -> StoreResult<()> {
    diesel::delete(ticket_tags::table.filter(ticket_tags::ticket_id.eq(DbUuid(id))))
        .execute(conn)?;
    for tag in tags {
        diesel::insert_into(ticket_tags::table)
            .values((
                ticket_tags::ticket_id.eq(DbUuid(id)),
                ticket_tags::tag.eq(tag),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Records one change (`from` → `to`) on a ticket.
#[allow(clippy::too_many_arguments)]
fn event(
    conn: &mut DbConn,
    ticket: &TicketDraft,
    ticket_id: Uuid,
    kind: TicketEventKind,
    from: Option<&str>,
    to: Option<&str>,
    actor: Option<Actor>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::insert_into(ticket_events::table)
        .values((
            ticket_events::id.eq(DbUuid(rapport_domain::new_id())),
            ticket_events::ticket_id.eq(DbUuid(ticket_id)),
            ticket_events::customer_id.eq(DbUuid(ticket.customer_id)),
            ticket_events::kind.eq(kind.as_str()),
            ticket_events::from_value.eq(from),
            ticket_events::to_value.eq(to),
            ticket_events::actor_type.eq(actor.map(|a| a.kind())),
            ticket_events::actor_id.eq(actor.map(|a| DbUuid(a.id()))),
            ticket_events::created_at.eq(DbTime(at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// What the clocks say at a write, stored for filters and stats.
struct Derived {
    first_response_due_at: Option<DbTime>,
    resolution_due_at: Option<DbTime>,
    first_response_breached: bool,
    resolution_breached: bool,
}

fn derive(sla: Option<&TicketSla>) -> Derived {
    match sla {
        None => Derived {
            first_response_due_at: None,
            resolution_due_at: None,
            first_response_breached: false,
            resolution_breached: false,
        },
        Some(s) => Derived {
            first_response_due_at: s.first_response.due_at.map(DbTime),
            resolution_due_at: if s.resolution.paused || s.resolution.met_at.is_some() {
                None
            } else {
                s.resolution.due_at.map(DbTime)
            },
            first_response_breached: s.first_response.breached,
            resolution_breached: s.resolution.breached,
        },
    }
}

/// A status change the state machine refuses, as the store's error.
fn refused(t: TransitionError) -> StoreError {
    StoreError::Conflict(Conflict::Transition(t))
}

/// The draft with its customer as they are now (see [`crate::customers::with_current_customer`]).
fn with_current_customer<'a>(
    conn: &mut DbConn,
    d: &'a TicketDraft,
) -> StoreResult<std::borrow::Cow<'a, TicketDraft>> {
    crate::customers::with_current_customer(conn, d, |d| d.customer_id, |d, id| d.customer_id = id)
}

/// Opens a ticket; its SLA policy is chosen by priority and category.
pub fn insert(
    conn: &mut DbConn,
    d: &TicketDraft,
    actor: Option<Actor>,
    now: DateTime<Utc>,
) -> StoreResult<Ticket> {
    let named = d.customer_id;
    let d = &*with_current_customer(conn, d)?;
    // The customer as they are now, when they open it themselves.
    let actor = actor.map(|a| match a {
        Actor::Customer(c) if c == named => Actor::Customer(d.customer_id),
        other => other,
    });
    // Not later than now (the draft allows a few minutes of clock skew).
    let opened = d.opened_at.unwrap_or(now).min(now);
    // Stamped with the opening time, so that lists by id are lists by opening time.
    let id = rapport_domain::new_id_at(opened);
    conn.transaction(|conn| {
        lock_customers(conn, &[d.customer_id])?;
        check_references(conn, d)?;
        let terms =
            policy_for(conn, d.priority, d.category.as_deref())?.map(|p| p.draft.terms(p.id));
        let sla = terms
            .as_ref()
            .map(|t| sla_of(t, opened, &[], None, None, now))
            .transpose()?;
        let derived = derive(sla.as_ref());
        let product = d.product.clone().unwrap_or_default();
        diesel::insert_into(tickets::table)
            .values((
                (
                    tickets::id.eq(DbUuid(id)),
                    tickets::customer_id.eq(DbUuid(d.customer_id)),
                    tickets::subject.eq(&d.subject),
                    tickets::description.eq(&d.description),
                    tickets::channel.eq(d.channel.as_str()),
                    tickets::category.eq(&d.category),
                    tickets::tags.eq(DbJson::of(&d.tags)),
                    tickets::priority.eq(d.priority.as_str()),
                    tickets::status.eq(d.status.as_str()),
                    tickets::assignee_id.eq(d.assignee_id.map(DbUuid)),
                    tickets::product_model.eq(&product.model),
                    tickets::product_serial.eq(&product.serial),
                    tickets::product_purchased_at.eq(product.purchased_at.map(DbTime)),
                    tickets::purchase_interaction_id
                        .eq(product.purchase_interaction_id.map(DbUuid)),
                    tickets::custom_fields.eq(DbJson::of(&d.custom_fields)),
                    tickets::sla_terms.eq(terms.as_ref().map(DbJson::of)),
                ),
                (
                    tickets::search_text.eq(d.search_text()),
                    tickets::sla_pauses.eq(DbJson::of(&Vec::<PauseSpan>::new())),
                    tickets::first_response_due_at.eq(derived.first_response_due_at),
                    tickets::resolution_due_at.eq(derived.resolution_due_at),
                    tickets::first_response_breached.eq(derived.first_response_breached),
                    tickets::resolution_breached.eq(derived.resolution_breached),
                    tickets::created_by_type.eq(actor.map(|a| a.kind())),
                    tickets::created_by_id.eq(actor.map(|a| DbUuid(a.id()))),
                    tickets::version.eq(1),
                    tickets::created_at.eq(DbTime(opened)),
                    tickets::updated_at.eq(DbTime(now)),
                ),
            ))
            .execute(conn)?;
        replace_tags(conn, id, &d.tags)?;
        event(
            conn,
            d,
            id,
            TicketEventKind::Created,
            None,
            Some(d.status.as_str()),
            actor,
            opened,
        )?;
        Ok::<_, StoreError>(())
    })?;
    get(conn, id, now)
}

/// The status bookkeeping of a change from `from` to `to` at `now`: the pauses of the resolution
/// clock, and when the ticket was solved and closed.
struct StatusClock {
    pauses: Vec<PauseSpan>,
    solved_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
}

fn move_status(
    from: TicketStatus,
    to: TicketStatus,
    mut c: StatusClock,
    now: DateTime<Utc>,
) -> StatusClock {
    use TicketStatus::*;
    if from == to {
        return c;
    }
    let waiting = |s: TicketStatus| matches!(s, Pending | OnHold);
    // Leaving a wait: the open pause ends now.
    if waiting(from) && !waiting(to) {
        if let Some(last) = c.pauses.last_mut() {
            if last.1.is_none() {
                last.1 = Some(now);
            }
        }
    }
    // Starting a wait from a running clock.
    if waiting(to) && !waiting(from) {
        c.pauses.push(PauseSpan(now, None, false));
    }
    match to {
        Solved => c.solved_at = Some(now),
        Closed => c.closed_at = Some(now),
        _ => {}
    }
    // A reopen: the time it spent solved does not count, and it is no longer solved.
    if from == Solved && to != Closed {
        if let Some(solved) = c.solved_at.take() {
            c.pauses.push(PauseSpan(solved, Some(now), true));
        }
    }
    c
}

/// Replaces a ticket's writable fields if it is still at `expected_version`. A status change must
/// follow the state machine (and the reopen window); changes of status, priority, assignee and
/// category are recorded as events; a new priority or category chooses the SLA policy again.
/// Returns the ticket and the status it had before.
pub fn update(
    conn: &mut DbConn,
    id: Uuid,
    expected_version: i64,
    d: &TicketDraft,
    actor: Option<Actor>,
    now: DateTime<Utc>,
) -> StoreResult<(Ticket, TicketStatus)> {
    let d = &*with_current_customer(conn, d)?;
    conn.transaction(|conn| {
        let current = load(conn, id, now)?;
        if current.ticket.version != expected_version {
            return Err(StoreError::VersionMismatch);
        }
        let old = &current.ticket.draft;
        if old.status == TicketStatus::Closed {
            // Closed is final: a status change names the (no) allowed statuses, anything else
            // is refused as a change to a closed ticket.
            return Err(if d.status != TicketStatus::Closed {
                refused(TransitionError::Illegal {
                    from: old.status,
                    to: d.status,
                })
            } else {
                StoreError::Conflict(Conflict::TicketClosed)
            });
        }
        if d.opened_at.is_some_and(|o| o != current.ticket.created_at) {
            return Err(StoreError::Immutable("opened_at"));
        }
        if d.customer_id != old.customer_id {
            lock_customers(conn, &[old.customer_id, d.customer_id])?;
        } else {
            lock_customers(conn, &[d.customer_id])?;
        }
        // References are checked when they change: a ticket of a customer archived since can
        // still be worked and closed.
        let purchase = |t: &TicketDraft| t.product.as_ref().and_then(|p| p.purchase_interaction_id);
        if d.customer_id != old.customer_id
            || d.assignee_id != old.assignee_id
            || purchase(d) != purchase(old)
        {
            check_references(conn, d)?;
        }
        // The window only matters to a reopen.
        let settings = if old.status == TicketStatus::Solved && d.status == TicketStatus::Open {
            desk_settings(conn)?
        } else {
            DeskSettings::default()
        };
        check_transition(
            old.status,
            d.status,
            current.ticket.solved_at,
            &settings,
            now,
        )
        .map_err(refused)?;
        let clock = move_status(
            old.status,
            d.status,
            StatusClock {
                pauses: current.pauses.clone(),
                solved_at: current.ticket.solved_at,
                closed_at: current.ticket.closed_at,
            },
            now,
        );
        let terms = if d.priority != old.priority || d.category != old.category {
            policy_for(conn, d.priority, d.category.as_deref())?.map(|p| p.draft.terms(p.id))
        } else {
            current.terms.clone()
        };
        let sla = terms
            .as_ref()
            .map(|t| {
                sla_of(
                    t,
                    current.ticket.created_at,
                    &clock.pauses,
                    current.ticket.first_responded_at,
                    clock.solved_at,
                    now,
                )
            })
            .transpose()?;
        let derived = derive(sla.as_ref());
        let product = d.product.clone().unwrap_or_default();
        let n = diesel::update(
            tickets::table
                .find(DbUuid(id))
                .filter(tickets::version.eq(expected_version)),
        )
        .set((
            (
                tickets::customer_id.eq(DbUuid(d.customer_id)),
                tickets::subject.eq(&d.subject),
                tickets::description.eq(&d.description),
                tickets::channel.eq(d.channel.as_str()),
                tickets::category.eq(&d.category),
                tickets::tags.eq(DbJson::of(&d.tags)),
                tickets::priority.eq(d.priority.as_str()),
                tickets::status.eq(d.status.as_str()),
                tickets::assignee_id.eq(d.assignee_id.map(DbUuid)),
                tickets::product_model.eq(&product.model),
                tickets::product_serial.eq(&product.serial),
                tickets::product_purchased_at.eq(product.purchased_at.map(DbTime)),
                tickets::purchase_interaction_id.eq(product.purchase_interaction_id.map(DbUuid)),
                tickets::custom_fields.eq(DbJson::of(&d.custom_fields)),
                tickets::sla_terms.eq(terms.as_ref().map(DbJson::of)),
            ),
            (
                tickets::search_text.eq(d.search_text()),
                tickets::sla_pauses.eq(DbJson::of(&clock.pauses)),
                tickets::first_response_due_at.eq(derived.first_response_due_at),
                tickets::resolution_due_at.eq(derived.resolution_due_at),
                tickets::first_response_breached.eq(derived.first_response_breached),
                tickets::resolution_breached.eq(derived.resolution_breached),
                tickets::solved_at.eq(clock.solved_at.map(DbTime)),
                tickets::closed_at.eq(clock.closed_at.map(DbTime)),
                tickets::version.eq(expected_version + 1),
                tickets::updated_at.eq(DbTime(now)),
            ),
        ))
        .execute(conn)?;
        if n == 0 {
            return Err(StoreError::VersionMismatch);
        }
        if d.customer_id != old.customer_id {
            diesel::update(ticket_events::table.filter(ticket_events::ticket_id.eq(DbUuid(id))))
                .set(ticket_events::customer_id.eq(DbUuid(d.customer_id)))
                .execute(conn)?;
        }
        if d.tags != old.tags {
            replace_tags(conn, id, &d.tags)?;
        }
        let changes = [
            (
                TicketEventKind::Status,
                Some(old.status.as_str().to_owned()),
                Some(d.status.as_str().to_owned()),
            ),
            (
                TicketEventKind::Priority,
                Some(old.priority.as_str().to_owned()),
                Some(d.priority.as_str().to_owned()),
            ),
            (
                TicketEventKind::Assignee,
                old.assignee_id.map(|a| a.to_string()),
                d.assignee_id.map(|a| a.to_string()),
            ),
            (
                TicketEventKind::Category,
                old.category.clone(),
                d.category.clone(),
            ),
        ];
        for (kind, from, to) in changes {
            if from != to {
                event(
                    conn,
                    d,
                    id,
                    kind,
                    from.as_deref(),
                    to.as_deref(),
                    actor,
                    now,
                )?;
            }
        }
        Ok((get(conn, id, now)?, old.status))
    })
}

/// How ticket lists are ordered: by creation (ids are time-ordered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TicketOrder {
    #[default]
    NewestFirst,
    OldestFirst,
}

#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub customer_id: Option<Uuid>,
    pub status: Vec<TicketStatus>,
    pub priority: Option<Priority>,
    pub assignee_id: Option<Uuid>,
    /// Only tickets with no assignee.
    pub unassigned: bool,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub product_model: Option<String>,
    pub sla_breached: Option<bool>,
    pub q: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    /// Only tickets created before this one (the ticket's related history).
    pub before_id: Option<Uuid>,
    /// Leave this ticket out.
    pub except_id: Option<Uuid>,
}

/// `%text%` for LIKE, with the pattern characters escaped (`\` is the escape character).
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// A customer's tickets (a merged duplicate's id gives its survivor's), newest first;
/// `NotFound` for no such customer.
pub fn of_customer(
    conn: &mut DbConn,
    customer_id: Uuid,
    cursor: Option<&str>,
    limit: i64,
    now: DateTime<Utc>,
) -> StoreResult<Page<Ticket>> {
    let f = TicketFilter {
        customer_id: Some(crate::customers::current(conn, customer_id)?),
        ..Default::default()
    };
    list(conn, &f, TicketOrder::NewestFirst, cursor, limit, now)
}

/// One page of tickets; `customer_id` may be a merged duplicate's id (its survivor's tickets).
pub fn list(
    conn: &mut DbConn,
    f: &TicketFilter,
    order: TicketOrder,
    cursor: Option<&str>,
    limit: i64,
    now: DateTime<Utc>,
) -> StoreResult<Page<Ticket>> {
    let resolved;
    let f = match f.customer_id {
        Some(c) => {
            resolved = TicketFilter {
                customer_id: Some(crate::customers::resolve_id(conn, c)?.unwrap_or(c)),
                ..f.clone()
            };
            &resolved
        }
        None => f,
    };
    // The cursor names its order: one from a newest-first page cannot page oldest-first.
    let tag = match order {
        TicketOrder::NewestFirst => 'd',
        TicketOrder::OldestFirst => 'a',
    };
    let after: Option<Uuid> = crate::page::list_key::<(char, Uuid)>(cursor, "tickets")?
        .map(|(t, id)| {
            if t == tag {
                Ok(id)
            } else {
                Err(StoreError::InvalidCursor)
            }
        })
        .transpose()?;
    let mut q = tickets::table.select(Row::as_select()).into_boxed();
    if let Some(c) = f.customer_id {
        q = q.filter(tickets::customer_id.eq(DbUuid(c)));
    }
    if !f.status.is_empty() {
        q = q.filter(tickets::status.eq_any(f.status.iter().map(|s| s.as_str())));
    }
    if let Some(p) = f.priority {
        q = q.filter(tickets::priority.eq(p.as_str()));
    }
    if let Some(a) = f.assignee_id {
        q = q.filter(tickets::assignee_id.eq(DbUuid(a)));
    }
    if f.unassigned {
        q = q.filter(tickets::assignee_id.is_null());
    }
    if let Some(c) = &f.category {
        q = q.filter(tickets::category.eq(c.clone()));
    }
    if let Some(t) = &f.tag {
        q = q.filter(
            tickets::id.eq_any(
                ticket_tags::table
                    .filter(ticket_tags::tag.eq(t.trim().to_lowercase()))
                    .select(ticket_tags::ticket_id),
            ),
        );
    }
    if let Some(m) = &f.product_model {
        q = q.filter(tickets::product_model.eq(m.clone()));
    }
    if let Some(b) = f.sla_breached {
        let n = DbTime(now);
        let late = tickets::first_response_breached
            .or(tickets::resolution_breached)
            .or(tickets::first_responded_at
                .is_null()
                .and(tickets::solved_at.is_null())
                .and(tickets::first_response_due_at.is_not_null())
                .and(tickets::first_response_due_at.assume_not_null().lt(n)))
            .or(tickets::resolution_due_at
                .is_not_null()
                .and(tickets::resolution_due_at.assume_not_null().lt(n)));
        q = if b {
            q.filter(late)
        } else {
            q.filter(diesel::dsl::not(late))
        };
    }
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        q = q.filter(
            tickets::search_text
                .like(contains_pattern(text))
                .escape('\\'),
        );
    }
    if let Some(t) = f.created_after {
        q = q.filter(tickets::created_at.ge(DbTime(t)));
    }
    if let Some(t) = f.created_before {
        q = q.filter(tickets::created_at.lt(DbTime(t)));
    }
    if let Some(t) = f.updated_after {
        q = q.filter(tickets::updated_at.ge(DbTime(t)));
    }
    if let Some(t) = f.updated_before {
        q = q.filter(tickets::updated_at.lt(DbTime(t)));
    }
    if let Some(b) = f.before_id {
        q = q.filter(tickets::id.lt(DbUuid(b)));
    }
    if let Some(x) = f.except_id {
        q = q.filter(tickets::id.ne(DbUuid(x)));
    }
    q = match (order, after) {
        (TicketOrder::NewestFirst, Some(a)) => q.filter(tickets::id.lt(DbUuid(a))),
        (TicketOrder::OldestFirst, Some(a)) => q.filter(tickets::id.gt(DbUuid(a))),
        (_, None) => q,
    };
    q = match order {
        TicketOrder::NewestFirst => q.order(tickets::id.desc()),
        TicketOrder::OldestFirst => q.order(tickets::id.asc()),
    };
    let rows: Vec<Row> = crate::page::limited(q, limit + 1).load(conn)?;
    Page::from_rows(
        rows,
        limit,
        |r| r.into_stored(now).map(|s| s.ticket),
        |t| crate::page::list_token("tickets", (tag, t.id)),
    )
}

/// The customer's earlier tickets about the same product model as this one, newest first.
pub fn related(
    conn: &mut DbConn,
    id: Uuid,
    cursor: Option<&str>,
    limit: i64,
    now: DateTime<Utc>,
) -> StoreResult<Page<Ticket>> {
    let t = get(conn, id, now)?;
    let Some(model) = t.draft.product_model() else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let f = TicketFilter {
        customer_id: Some(t.draft.customer_id),
        product_model: Some(model.to_owned()),
        before_id: Some(id),
        ..Default::default()
    };
    list(conn, &f, TicketOrder::NewestFirst, cursor, limit, now)
}
