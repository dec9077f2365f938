//! Duplicates and merging: finding customers that look like one person, and folding a duplicate
//! into a survivor in one transaction.
//!
//! A merge moves everything the duplicate owns (interactions, loyalty entries, lots and
//! redemptions, tickets and their events; campaign touches as those land) to the survivor, fills
//! the survivor's blank fields from the duplicate, keeps the duplicate's id, e-mail and phone as
//! aliases of the survivor (so old references still find someone), records the merge with a
//! snapshot of the duplicate, and deletes the duplicate: afterwards nothing points at it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rapport_domain::conflict::Conflict;
use rapport_domain::customer::Customer;
use rapport_domain::duplicates::{absorb, Candidate, MergeRecord};
use uuid::Uuid;

use crate::customers::lock_customers;
use crate::db::DbConn;
use crate::interactions::recompute_totals;
use crate::schema::{
    customer_aliases, customer_merges, customers, interactions, loyalty_entries, loyalty_lots,
    loyalty_redemptions, ticket_events, tickets,
};
use crate::types::{DbJson, DbTime, DbUuid};
use crate::{StoreError, StoreResult};

/// The identifying fields of every live customer, for duplicate detection.
pub fn candidates(conn: &mut DbConn) -> StoreResult<Vec<Candidate>> {
    type Row = (
        DbUuid,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = customers::table
        .filter(customers::archived_at.is_null())
        .select((
            customers::id,
            customers::given_name,
            customers::family_name,
            customers::email,
            customers::phone,
            customers::city,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, given_name, family_name, email, phone, city)| Candidate {
                id: id.0,
                given_name,
                family_name,
                email,
                phone,
                city,
            },
        )
        .collect())
}

use crate::customers::{ALIAS_EMAIL, ALIAS_ID};
const ALIAS_PHONE: &str = "phone";

fn add_alias(
    conn: &mut DbConn,
    kind: &str,
    value: &str,
    to: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let taken: Option<DbUuid> = customer_aliases::table
        .find((kind, value))
        .select(customer_aliases::customer_id)
        .first(conn)
        .optional()?;
    if taken.is_none() {
        diesel::insert_into(customer_aliases::table)
            .values((
                customer_aliases::kind.eq(kind),
                customer_aliases::value.eq(value),
                customer_aliases::customer_id.eq(DbUuid(to)),
                customer_aliases::created_at.eq(DbTime(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Merges `duplicate_id` into `survivor_id` (each resolved through earlier merges); returns the
/// survivor as it now is and the record.
pub fn merge(
    conn: &mut DbConn,
    survivor_id: Uuid,
    duplicate_id: Uuid,
    merged_by: Option<String>,
    now: DateTime<Utc>,
) -> StoreResult<(Customer, MergeRecord)> {
    let survivor_id = crate::customers::current(conn, survivor_id)?;
    let duplicate_id = crate::customers::referenced(conn, duplicate_id, "duplicate_id")?;
    if survivor_id == duplicate_id {
        return Err(StoreError::Conflict(Conflict::MergeSelf));
    }
    conn.transaction(|conn| {
        lock_customers(conn, &[survivor_id, duplicate_id])?;
        let survivor = crate::customers::get(conn, survivor_id)?;
        if survivor.archived_at.is_some() {
            return Err(StoreError::Conflict(Conflict::CustomerArchived));
        }
        let dup = match crate::customers::get(conn, duplicate_id) {
            Ok(d) => d,
            Err(StoreError::NotFound) => return Err(StoreError::MissingReference("duplicate_id")),
            Err(e) => return Err(e),
        };

        // Everything the duplicate owns moves.
        let moved = diesel::update(
            interactions::table.filter(interactions::customer_id.eq(DbUuid(duplicate_id))),
        )
        .set(interactions::customer_id.eq(DbUuid(survivor_id)))
        .execute(conn)? as i64;
        diesel::update(
            customer_aliases::table.filter(customer_aliases::customer_id.eq(DbUuid(duplicate_id))),
        )
        .set(customer_aliases::customer_id.eq(DbUuid(survivor_id)))
        .execute(conn)?;
        diesel::update(
            customer_merges::table.filter(customer_merges::survivor_id.eq(DbUuid(duplicate_id))),
        )
        .set(customer_merges::survivor_id.eq(DbUuid(survivor_id)))
        .execute(conn)?;
        // The duplicate's points: its ledger entries and lots change owner, nothing else about
        // them (the one change an append-only ledger allows), so the survivor's balance is the sum.
        diesel::update(
            loyalty_entries::table.filter(loyalty_entries::customer_id.eq(DbUuid(duplicate_id))),
        )
        .set(loyalty_entries::customer_id.eq(DbUuid(survivor_id)))
        .execute(conn)?;
        diesel::update(
            loyalty_lots::table.filter(loyalty_lots::customer_id.eq(DbUuid(duplicate_id))),
        )
        .set(loyalty_lots::customer_id.eq(DbUuid(survivor_id)))
        .execute(conn)?;
        diesel::update(
            loyalty_redemptions::table
                .filter(loyalty_redemptions::customer_id.eq(DbUuid(duplicate_id))),
        )
        .set(loyalty_redemptions::customer_id.eq(DbUuid(survivor_id)))
        .execute(conn)?;
        // Tickets and their history.
        diesel::update(tickets::table.filter(tickets::customer_id.eq(DbUuid(duplicate_id))))
            .set(tickets::customer_id.eq(DbUuid(survivor_id)))
            .execute(conn)?;
        diesel::update(
            ticket_events::table.filter(ticket_events::customer_id.eq(DbUuid(duplicate_id))),
        )
        .set(ticket_events::customer_id.eq(DbUuid(survivor_id)))
        .execute(conn)?;

        // The duplicate's identifiers lead to the survivor from now on.
        add_alias(
            conn,
            ALIAS_ID,
            &duplicate_id.hyphenated().to_string(),
            survivor_id,
            now,
        )?;
        if let Some(e) = &dup.draft.email {
            if survivor.draft.email.as_deref() != Some(e) {
                add_alias(conn, ALIAS_EMAIL, e, survivor_id, now)?;
            }
        }
        if let Some(p) = &dup.draft.phone {
            if survivor.draft.phone.as_deref() != Some(p) {
                add_alias(conn, ALIAS_PHONE, p, survivor_id, now)?;
            }
        }

        let record = MergeRecord {
            id: rapport_domain::new_id(),
            survivor_id,
            duplicate_id,
            duplicate: serde_json::to_value(&dup)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            moved_interactions: moved,
            merged_by,
            merged_at: now,
        };
        diesel::insert_into(customer_merges::table)
            .values((
                customer_merges::id.eq(DbUuid(record.id)),
                customer_merges::survivor_id.eq(DbUuid(survivor_id)),
                customer_merges::duplicate_id.eq(DbUuid(duplicate_id)),
                customer_merges::duplicate.eq(DbJson::of(&record.duplicate)),
                customer_merges::moved_interactions.eq(moved),
                customer_merges::merged_by.eq(record.merged_by.as_deref()),
                customer_merges::merged_at.eq(DbTime(now)),
            ))
            .execute(conn)?;

        // The duplicate goes (its tags and totals with it, by cascade); then the survivor takes
        // over what it lacked, its external reference too if it had none.
        diesel::delete(customers::table.find(DbUuid(duplicate_id))).execute(conn)?;
        let combined = absorb(&survivor.draft, &dup.draft);
        let updated =
            crate::customers::update(conn, survivor_id, survivor.version, &combined, now)?;
        recompute_totals(conn, &[survivor_id])?;
        Ok((updated, record))
    })
}

/// The merges a customer survived, newest first.
pub fn merges_of(conn: &mut DbConn, survivor_id: Uuid) -> StoreResult<Vec<MergeRecord>> {
    let survivor_id = crate::customers::current(conn, survivor_id)?;
    type Row = (DbUuid, DbUuid, DbUuid, DbJson, i64, Option<String>, DbTime);
    let rows: Vec<Row> = customer_merges::table
        .filter(customer_merges::survivor_id.eq(DbUuid(survivor_id)))
        .order((
            customer_merges::merged_at.desc(),
            customer_merges::id.desc(),
        ))
        .select((
            customer_merges::id,
            customer_merges::survivor_id,
            customer_merges::duplicate_id,
            customer_merges::duplicate,
            customer_merges::moved_interactions,
            customer_merges::merged_by,
            customer_merges::merged_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, s, d, dup, moved, by, at)| {
            Ok(MergeRecord {
                id: id.0,
                survivor_id: s.0,
                duplicate_id: d.0,
                duplicate: dup
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("customer_merges.duplicate: {e}")))?,
                moved_interactions: moved,
                merged_by: by,
                merged_at: at.0,
            })
        })
        .collect()
}
