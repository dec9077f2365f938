//! A customer's timeline: everything about them, newest first, in one paginated stream.
//!
//! Each kind of record that belongs on it is a [`TimelineSource`] listed in [`SOURCES`]. A page
//! asks every source for its next `limit + 1` events after the cursor, merges them by
//! `(occurred_at, id)` and keeps `limit`: keyset pagination across tables, as cheap on page 1 000
//! as on page 1. A new kind of event (loyalty, tickets, campaigns) is one more source in the
//! list, nothing else. Each source names the scope a caller needs to see it; the HTTP layer
//! passes only the sources the caller may see (and asked for).

use chrono::{DateTime, Utc};
use rapport_domain::auth::Scope;
use serde_json::Value;
use uuid::Uuid;

use crate::db::DbConn;
use crate::interactions::{self, InteractionFilter, TimeOrder};
use crate::page::Page;
use crate::StoreResult;

/// One thing that happened to a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEvent {
    /// What kind of record this is, e.g. `interaction`.
    pub kind: &'static str,
    /// The record's id.
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// The record as its own endpoint returns it.
    pub data: Value,
}

/// A kind of record that appears on timelines.
pub trait TimelineSource: Sync {
    /// The `type` its events carry, e.g. `interaction`.
    fn kind(&self) -> &'static str;
    /// The scope a caller needs to see these events (besides `customers:read`).
    fn scope(&self) -> Scope;
    /// Up to `limit` events of this customer strictly before `before` in `(occurred_at, id)`
    /// order, newest first.
    fn events(
        &self,
        conn: &mut DbConn,
        customer_id: Uuid,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> StoreResult<Vec<TimelineEvent>>;
}

/// Every source of timeline events.
pub static SOURCES: &[&dyn TimelineSource] = &[&InteractionEvents, &LoyaltyEvents, &TicketEvents];

const SORT: &str = "-occurred_at";

/// One page of a customer's timeline, newest first, from the given sources (a subset of
/// [`SOURCES`]). The cursor is a position in time, so it stays valid whatever the sources.
pub fn page(
    conn: &mut DbConn,
    customer_id: Uuid,
    sources: &[&dyn TimelineSource],
    cursor: Option<&str>,
    limit: i64,
) -> StoreResult<Page<TimelineEvent>> {
    let before = crate::page::time_key(cursor, "timeline", SORT)?;
    let customer_id = crate::customers::current(conn, customer_id)?;
    let mut events = Vec::new();
    for source in sources {
        events.extend(source.events(conn, customer_id, before, limit + 1)?);
    }
    events.sort_by_key(|e| std::cmp::Reverse((e.occurred_at, e.id)));
    let more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    let next_cursor = match events.last() {
        Some(last) if more => Some(crate::page::time_token(
            "timeline",
            SORT,
            last.occurred_at,
            last.id,
        )),
        _ => None,
    };
    Ok(Page {
        items: events,
        next_cursor,
    })
}

/// Interactions of every kind.
struct InteractionEvents;

impl TimelineSource for InteractionEvents {
    fn kind(&self) -> &'static str {
        "interaction"
    }

    fn scope(&self) -> Scope {
        Scope::InteractionsRead
    }

    fn events(
        &self,
        conn: &mut DbConn,
        customer_id: Uuid,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> StoreResult<Vec<TimelineEvent>> {
        let filter = InteractionFilter {
            customer_id: Some(customer_id),
            ..Default::default()
        };
        interactions::load(conn, &filter, TimeOrder::Desc, before, limit)?
            .into_iter()
            .map(|i| {
                Ok(TimelineEvent {
                    kind: self.kind(),
                    id: i.id,
                    occurred_at: i.draft.occurred_at,
                    data: serde_json::to_value(&i)
                        .map_err(|e| crate::StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }
}

/// Loyalty ledger entries: points earned, redeemed, adjusted, expired, reversed.
struct LoyaltyEvents;

impl TimelineSource for LoyaltyEvents {
    fn kind(&self) -> &'static str {
        "loyalty_entry"
    }

    fn scope(&self) -> Scope {
        Scope::LoyaltyRead
    }

    fn events(
        &self,
        conn: &mut DbConn,
        customer_id: Uuid,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> StoreResult<Vec<TimelineEvent>> {
        crate::loyalty::load_entries(conn, customer_id, before, limit)?
            .into_iter()
            .map(|e| {
                Ok(TimelineEvent {
                    kind: self.kind(),
                    id: e.id,
                    occurred_at: e.created_at,
                    data: serde_json::to_value(&e)
                        .map_err(|e| crate::StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }
}

/// Support tickets: opened, status, priority, assignee and category changes, first responses,
/// ratings.
struct TicketEvents;

impl TimelineSource for TicketEvents {
    fn kind(&self) -> &'static str {
        "ticket_event"
    }

    fn scope(&self) -> Scope {
        Scope::TicketsRead
    }

    fn events(
        &self,
        conn: &mut DbConn,
        customer_id: Uuid,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> StoreResult<Vec<TimelineEvent>> {
        crate::tickets::customer_events(conn, customer_id, before, limit)?
            .into_iter()
            .map(|e| {
                Ok(TimelineEvent {
                    kind: self.kind(),
                    id: e.id,
                    occurred_at: e.at,
                    data: serde_json::to_value(&e)
                        .map_err(|e| crate::StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }
}
