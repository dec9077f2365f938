//! SLA policies: the first-response and resolution targets a ticket takes by priority and
//! category.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rapport_domain::conflict::Conflict;
use rapport_domain::ticket::{Priority, SlaPolicy, SlaPolicyDraft};
use uuid::Uuid;

use super::corrupt;
use crate::db::DbConn;
use crate::schema::sla_policies;
use crate::types::{DbJson, DbTime, DbUuid};
use crate::{StoreError, StoreResult};

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
pub(super) fn policy_for(
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
