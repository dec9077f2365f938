//! Customers in bulk: inserts, and lookups by external reference and id, a batch at a time.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rapport_domain::customer::CustomerDraft;
use uuid::Uuid;

use super::ROWS_PER_STATEMENT;
use crate::db::DbConn;
use crate::schema::{customer_aliases, customer_tags, customers};
use crate::types::{DbTime, DbUuid};
use crate::StoreResult;

/// Runs a multi-row INSERT on the concrete connection: diesel's multi-backend connection has no
/// batch insert, but each backend has one.
macro_rules! batch_insert {
    ($conn:expr, $table:expr, $values:expr) => {
        match $conn {
            DbConn::Pg(c) => diesel::insert_into($table).values($values).execute(c),
            DbConn::Sqlite(c) => diesel::insert_into($table).values($values).execute(c),
        }
    };
}

/// A customer to insert as is: id and creation time chosen by the caller.
pub struct NewCustomer<'a> {
    pub id: Uuid,
    pub draft: &'a CustomerDraft,
    pub created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = customers, treat_none_as_default_value = false)]
struct CustomerRow<'a> {
    id: DbUuid,
    #[diesel(embed)]
    fields: crate::customers::Fields<'a>,
    version: i64,
    created_at: DbTime,
}

pub fn insert_customers(conn: &mut DbConn, rows: &[NewCustomer<'_>]) -> StoreResult<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<CustomerRow<'_>> = chunk
            .iter()
            .map(|c| CustomerRow {
                id: DbUuid(c.id),
                fields: crate::customers::Fields::new(c.draft, c.created_at),
                version: 1,
                created_at: DbTime(c.created_at),
            })
            .collect();
        batch_insert!(conn, customers::table, &values)?;
        let tags: Vec<_> = chunk
            .iter()
            .flat_map(|c| {
                c.draft.tags.iter().map(move |t| {
                    (
                        customer_tags::customer_id.eq(DbUuid(c.id)),
                        customer_tags::tag.eq(t.as_str()),
                    )
                })
            })
            .collect();
        for part in tags.chunks(ROWS_PER_STATEMENT * 4) {
            batch_insert!(conn, customer_tags::table, part)?;
        }
    }
    Ok(())
}

/// Which of these customer external references exist already, and as which customer.
pub fn customers_by_external_ref(
    conn: &mut DbConn,
    refs: &[&str],
) -> StoreResult<HashMap<String, Uuid>> {
    let mut out = HashMap::new();
    for chunk in refs.chunks(ROWS_PER_STATEMENT) {
        let found: Vec<(Option<String>, DbUuid)> = customers::table
            .filter(customers::external_ref.eq_any(chunk))
            .select((customers::external_ref, customers::id))
            .load(conn)?;
        out.extend(found.into_iter().filter_map(|(r, id)| r.map(|r| (r, id.0))));
    }
    Ok(out)
}

/// What an interaction may refer to: the customer's current id (aliases of merged duplicates
/// followed) and whether it is archived. Unknown ids are absent from the map.
pub fn customer_targets(
    conn: &mut DbConn,
    ids: &[Uuid],
) -> StoreResult<HashMap<Uuid, (Uuid, bool)>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let keys: Vec<DbUuid> = chunk.iter().copied().map(DbUuid).collect();
        let found: Vec<(DbUuid, Option<DbTime>)> = customers::table
            .filter(customers::id.eq_any(&keys))
            .select((customers::id, customers::archived_at))
            .load(conn)?;
        for (id, archived) in found {
            out.insert(id.0, (id.0, archived.is_some()));
        }
        let missing: Vec<String> = chunk
            .iter()
            .filter(|id| !out.contains_key(id))
            .map(|id| id.hyphenated().to_string())
            .collect();
        if !missing.is_empty() {
            let aliased: Vec<(String, DbUuid)> = customer_aliases::table
                .filter(customer_aliases::kind.eq("id"))
                .filter(customer_aliases::value.eq_any(&missing))
                .select((customer_aliases::value, customer_aliases::customer_id))
                .load(conn)?;
            for (old, survivor) in aliased {
                if let Ok(old) = Uuid::parse_str(&old) {
                    out.insert(old, (survivor.0, false));
                }
            }
        }
    }
    Ok(out)
}
