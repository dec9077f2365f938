//! Idempotency keys: a POST sent with `Idempotency-Key` reserves the key (per caller), runs, and
//! stores its response; a retry with the same key and the same request gets that response again
//! instead of doing the work twice. Kept in the database, so it holds across server processes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::schema::idempotency_keys as ik;
use crate::types::{DbJson, DbTime};
use crate::{StoreError, StoreResult};

/// A stored first response.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
    /// Response headers worth replaying (`Location`, `ETag`, `Content-Type`).
    pub headers: Vec<(String, String)>,
}

/// What the store knows about a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Reservation {
    /// The key was free and is now held for this request.
    Reserved,
    /// The same request already completed: replay this.
    Completed(StoredResponse),
    /// A request with this key is still running.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

type Row = (String, Option<i32>, Option<Vec<u8>>, Option<DbJson>, DbTime);

/// Reserves `key` for `principal`, or says why not. Keys older than `expire_before` are
/// forgotten first.
pub fn reserve(
    conn: &mut DbConn,
    principal: &str,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
    expire_before: DateTime<Utc>,
) -> StoreResult<Reservation> {
    diesel::delete(
        ik::table
            .filter(ik::principal.eq(principal))
            .filter(ik::key.eq(key))
            .filter(ik::created_at.lt(DbTime(expire_before))),
    )
    .execute(conn)?;
    // In its own savepoint: on PostgreSQL a failed statement would otherwise abort the caller's
    // transaction, and the read below must still run.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(ik::table)
            .values((
                ik::principal.eq(principal),
                ik::key.eq(key),
                ik::request_hash.eq(request_hash),
                ik::created_at.eq(DbTime(now)),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => return Ok(Reservation::Reserved),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {}
        Err(e) => return Err(e.into()),
    }
    let row: Option<Row> = ik::table
        .filter(ik::principal.eq(principal))
        .filter(ik::key.eq(key))
        .select((
            ik::request_hash,
            ik::status_code,
            ik::response_body,
            ik::response_headers,
            ik::created_at,
        ))
        .first(conn)
        .optional()?;
    let Some((hash, status, body, headers, _)) = row else {
        // Deleted between the insert and the read (expired by another request): treat as busy.
        return Ok(Reservation::InProgress);
    };
    if hash != request_hash {
        return Ok(Reservation::Mismatch);
    }
    match (status, body) {
        (Some(status), Some(body)) => {
            let headers: Vec<(String, String)> = match headers {
                Some(h) => h
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("idempotency headers: {e}")))?,
                None => Vec::new(),
            };
            Ok(Reservation::Completed(StoredResponse {
                status: status as u16,
                body,
                headers,
            }))
        }
        _ => Ok(Reservation::InProgress),
    }
}

/// Stores the response of a reserved key.
pub fn complete(
    conn: &mut DbConn,
    principal: &str,
    key: &str,
    response: &StoredResponse,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::update(
        ik::table
            .filter(ik::principal.eq(principal))
            .filter(ik::key.eq(key)),
    )
    .set((
        ik::status_code.eq(Some(i32::from(response.status))),
        ik::response_body.eq(Some(&response.body)),
        ik::response_headers.eq(Some(DbJson::of(&response.headers))),
        ik::completed_at.eq(Some(DbTime(now))),
    ))
    .execute(conn)?;
    Ok(())
}

/// Frees a reserved key whose request failed on our side, so that a retry can run.
pub fn release(conn: &mut DbConn, principal: &str, key: &str) -> StoreResult<()> {
    diesel::delete(
        ik::table
            .filter(ik::principal.eq(principal))
            .filter(ik::key.eq(key))
            .filter(ik::status_code.is_null()),
    )
    .execute(conn)?;
    Ok(())
}
