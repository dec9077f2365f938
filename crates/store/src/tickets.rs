//! Support tickets: the tickets, their events and messages, SLA policies and the desk's settings.
//!
//! A ticket carries its SLA terms (the policy chosen for its priority and category, copied when
//! chosen) and the spans its resolution clock stood still (`sla_pauses`). Both clocks are computed
//! from those by [`rapport_domain::sla::Clock`] whenever a ticket is read. Every write also stores
//! what the clocks say at that moment (due times, breaches), so that lists can filter on breaches
//! and stats can count them without recomputing every ticket: a clock that runs past its due time
//! with no write in between is caught by comparing the stored due time with now.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rapport_domain::conflict::Conflict;
use rapport_domain::customer::Channel;
use rapport_domain::sla::{BusinessHours, Clock, ClockState, Pause};
use rapport_domain::ticket::{
    check_transition, Actor, Csat, CsatDraft, DeskSettings, Message, MessageDraft, Priority,
    Product, SlaClock, SlaPolicy, SlaPolicyDraft, SlaTerms, Ticket, TicketDraft, TicketEvent,
    TicketEventKind, TicketFacts, TicketSla, TicketStatus, TransitionError, Visibility,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::customers::{live_customer, lock_customers};
use crate::db::DbConn;
use crate::page::Page;
use crate::schema::{
    interactions, sla_policies, ticket_events, ticket_messages, ticket_tags, tickets, users,
};
use crate::types::{DbJson, DbTime, DbUuid};
use crate::{StoreError, StoreResult};

fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value}"))
}

// ---------------------------------------------------------------- settings

const SETTINGS_KEY: &str = "tickets.desk";

pub fn desk_settings(conn: &mut DbConn) -> StoreResult<DeskSettings> {
    match crate::settings::get(conn, SETTINGS_KEY)? {
        None => Ok(DeskSettings::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| corrupt("desk settings", e)),
    }
}

pub fn put_desk_settings(conn: &mut DbConn, s: &DeskSettings) -> StoreResult<DeskSettings> {
    use crate::schema::settings;
    let text = serde_json::to_string(s).map_err(|e| corrupt("desk settings", e))?;
    // An upsert: concurrent writers on several servers each replace the row, none fails.
    let row = (settings::key.eq(SETTINGS_KEY), settings::value.eq(&text));
    match conn {
        DbConn::Sqlite(c) => diesel::insert_into(settings::table)
            .values(row)
            .on_conflict(settings::key)
            .do_update()
            .set(settings::value.eq(&text))
            .execute(c)?,
        DbConn::Pg(c) => diesel::insert_into(settings::table)
            .values(row)
            .on_conflict(settings::key)
            .do_update()
            .set(settings::value.eq(&text))
            .execute(c)?,
    };
    Ok(s.clone())
}

// ---------------------------------------------------------------- SLA policies

type PolicyRow = (
    DbUuid,
    String,
    String,
    Option<String>,
    i64,
    i64,
    Option<DbJson>,
    i64,
    DbTime,
    DbTime,
);

macro_rules! policy_columns {
    () => {
        (
            sla_policies::id,
            sla_policies::name,
            sla_policies::priority,
            sla_policies::category,
            sla_policies::first_response_minutes,
            sla_policies::resolution_minutes,
            sla_policies::calendar,
            sla_policies::version,
            sla_policies::created_at,
            sla_policies::updated_at,
        )
    };
}

fn policy_of(r: PolicyRow) -> StoreResult<SlaPolicy> {
    let (id, name, priority, category, fr, res, calendar, version, created, updated) = r;
    Ok(SlaPolicy {
        id: id.0,
        draft: SlaPolicyDraft {
            name,
            priority: Priority::parse(&priority).ok_or_else(|| corrupt("priority", &priority))?,
            category,
            first_response_minutes: fr,
            resolution_minutes: res,
            calendar: calendar
                .map(|c| c.parse())
                .transpose()
                .map_err(|e| corrupt("sla calendar", e))?,
        },
        version,
        created_at: created.0,
        updated_at: updated.0,
    })
}

pub fn create_policy(
    conn: &mut DbConn,
    d: &SlaPolicyDraft,
    now: DateTime<Utc>,
) -> StoreResult<SlaPolicy> {
    let id = rapport_domain::new_id();
    diesel::insert_into(sla_policies::table)
        .values((
            sla_policies::id.eq(DbUuid(id)),
            sla_policies::name.eq(&d.name),
            sla_policies::priority.eq(d.priority.as_str()),
            sla_policies::category.eq(&d.category),
            sla_policies::first_response_minutes.eq(d.first_response_minutes),
            sla_policies::resolution_minutes.eq(d.resolution_minutes),
            sla_policies::calendar.eq(d.calendar.as_ref().map(DbJson::of)),
            sla_policies::version.eq(1),
            sla_policies::created_at.eq(DbTime(now)),
            sla_policies::updated_at.eq(DbTime(now)),
        ))
        .execute(conn)
        .map_err(StoreError::unique(Conflict::DuplicateSlaPolicy))?;
    policy(conn, id)
}

pub fn policy(conn: &mut DbConn, id: Uuid) -> StoreResult<SlaPolicy> {
    let row: PolicyRow = sla_policies::table
        .find(DbUuid(id))
        .select(policy_columns!())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    policy_of(row)
}

/// Every policy, by priority then category (there are at most a few per priority and category).
pub fn policies(conn: &mut DbConn) -> StoreResult<Vec<SlaPolicy>> {
    let rows: Vec<PolicyRow> = sla_policies::table
        .select(policy_columns!())
        .order(sla_policies::id)
        .load(conn)?;
    let mut out = rows
        .into_iter()
        .map(policy_of)
        .collect::<StoreResult<Vec<_>>>()?;
    out.sort_by(|a, b| {
        (a.draft.priority as u8, &a.draft.category)
            .cmp(&(b.draft.priority as u8, &b.draft.category))
    });
    Ok(out)
}

pub fn update_policy(
    conn: &mut DbConn,
    id: Uuid,
    version: i64,
    d: &SlaPolicyDraft,
    now: DateTime<Utc>,
) -> StoreResult<SlaPolicy> {
    let n = diesel::update(
        sla_policies::table
            .find(DbUuid(id))
            .filter(sla_policies::version.eq(version)),
    )
    .set((
        sla_policies::name.eq(&d.name),
        sla_policies::priority.eq(d.priority.as_str()),
        sla_policies::category.eq(&d.category),
        sla_policies::first_response_minutes.eq(d.first_response_minutes),
        sla_policies::resolution_minutes.eq(d.resolution_minutes),
        sla_policies::calendar.eq(d.calendar.as_ref().map(DbJson::of)),
        sla_policies::version.eq(version + 1),
        sla_policies::updated_at.eq(DbTime(now)),
    ))
    .execute(conn)
    .map_err(StoreError::unique(Conflict::DuplicateSlaPolicy))?;
    if n == 0 {
        policy(conn, id)?;
        return Err(StoreError::VersionMismatch);
    }
    policy(conn, id)
}

/// Deletes a policy. Tickets keep the terms they copied from it.
pub fn delete_policy(conn: &mut DbConn, id: Uuid) -> StoreResult<()> {
    let n = diesel::delete(sla_policies::table.find(DbUuid(id))).execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The policy for a priority and category: the category's own, else the priority's catch-all.
fn policy_for(
    conn: &mut DbConn,
    priority: Priority,
    category: Option<&str>,
) -> StoreResult<Option<SlaPolicy>> {
    let rows: Vec<PolicyRow> = sla_policies::table
        .filter(sla_policies::priority.eq(priority.as_str()))
        .select(policy_columns!())
        .load(conn)?;
    let mut own = None;
    let mut any = None;
    for r in rows {
        match (&r.3, category) {
            (Some(c), Some(want)) if c == want => own = Some(r),
            (None, _) => any = Some(r),
            _ => {}
        }
    }
    own.or(any).map(policy_of).transpose()
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
    let after: Option<Uuid> = cursor
        .map(crate::page::decode_token::<(char, Uuid)>)
        .transpose()?
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
        |t| crate::page::encode_token(&(tag, t.id)),
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

// ---------------------------------------------------------------- messages

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
    let after: Option<Uuid> = cursor.map(crate::page::decode_token).transpose()?;
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
        crate::page::encode_token(&t.id)
    })
}

// ---------------------------------------------------------------- events

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
    let after: Option<Uuid> = cursor.map(crate::page::decode_token).transpose()?;
    let mut q = ticket_events::table
        .filter(ticket_events::ticket_id.eq(DbUuid(ticket_id)))
        .select(event_columns!())
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(ticket_events::id.gt(DbUuid(a)));
    }
    let rows: Vec<EventRow> =
        crate::page::limited(q.order(ticket_events::id), limit + 1).load(conn)?;
    Page::from_rows(rows, limit, event_of, |t| crate::page::encode_token(&t.id))
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

// ---------------------------------------------------------------- satisfaction

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

// ---------------------------------------------------------------- stats

/// The tickets created in `[from, to)`, reduced to what stats need.
pub fn stats_rows(
    conn: &mut DbConn,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<TicketFacts>> {
    let mut q = tickets::table.into_boxed();
    if let Some(f) = from {
        q = q.filter(tickets::created_at.ge(DbTime(f)));
    }
    if let Some(t) = to {
        q = q.filter(tickets::created_at.lt(DbTime(t)));
    }
    type R = (
        String,
        Option<String>,
        Option<DbUuid>,
        DbTime,
        Option<DbTime>,
        Option<DbTime>,
        Option<DbJson>,
        bool,
        bool,
        Option<DbTime>,
        Option<DbTime>,
        Option<DbJson>,
    );
    let rows: Vec<R> = q
        .select((
            tickets::status,
            tickets::category,
            tickets::assignee_id,
            tickets::created_at,
            tickets::first_responded_at,
            tickets::solved_at,
            tickets::sla_terms,
            tickets::first_response_breached,
            tickets::resolution_breached,
            tickets::first_response_due_at,
            tickets::resolution_due_at,
            tickets::csat,
        ))
        .order(tickets::id)
        .load(conn)?;
    rows.into_iter()
        .map(
            |(
                status,
                category,
                assignee,
                created,
                responded,
                solved,
                terms,
                frb,
                rb,
                frd,
                rd,
                csat,
            )| {
                let late_response =
                    responded.is_none() && solved.is_none() && frd.is_some_and(|d| d.0 < now);
                let late_resolution = rd.is_some_and(|d| d.0 < now);
                Ok(TicketFacts {
                    status: TicketStatus::parse(&status)
                        .ok_or_else(|| corrupt("tickets.status", &status))?,
                    category,
                    assignee_id: assignee.map(|a| a.0),
                    created_at: created.0,
                    first_responded_at: responded.map(|t| t.0),
                    solved_at: solved.map(|t| t.0),
                    has_sla: terms.is_some(),
                    breached: frb || rb || late_response || late_resolution,
                    csat: csat
                        .map(|j| j.parse::<Csat>())
                        .transpose()
                        .map_err(|e| corrupt("tickets.csat", e))?
                        .map(|c| c.rating),
                })
            },
        )
        .collect()
}

/// How many tickets are breached now, by clock (for the metrics endpoint).
pub fn breached_counts(conn: &mut DbConn, now: DateTime<Utc>) -> StoreResult<(i64, i64)> {
    let n = DbTime(now);
    let open = [
        TicketStatus::New.as_str(),
        TicketStatus::Open.as_str(),
        TicketStatus::Pending.as_str(),
        TicketStatus::OnHold.as_str(),
    ];
    let first: i64 = tickets::table
        .filter(tickets::status.eq_any(open))
        .filter(
            tickets::first_response_breached.or(tickets::first_responded_at
                .is_null()
                .and(tickets::solved_at.is_null())
                .and(tickets::first_response_due_at.is_not_null())
                .and(tickets::first_response_due_at.assume_not_null().lt(n))),
        )
        .count()
        .get_result(conn)?;
    let resolution: i64 = tickets::table
        .filter(tickets::status.eq_any(open))
        .filter(
            tickets::resolution_breached.or(tickets::resolution_due_at
                .is_not_null()
                .and(tickets::resolution_due_at.assume_not_null().lt(n))),
        )
        .count()
        .get_result(conn)?;
    Ok((first, resolution))
}
