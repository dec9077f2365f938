//! What the desk's stats and the metrics endpoint read from the tickets.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rapport_domain::ticket::{Csat, TicketFacts, TicketStatus};

use super::corrupt;
use crate::db::DbConn;
use crate::schema::tickets;
use crate::types::{DbJson, DbTime, DbUuid};
use crate::StoreResult;

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
