//! Idempotency keys: a POST sent with `Idempotency-Key` reserves the key (per caller), runs, and
//! stores its response; a retry with the same key and the same request gets that response again
//! instead of doing the work twice. Kept in the database, so it holds across server processes.
//!
//! The outcome is exact, whatever dies when:
//! - A reservation belongs to one attempt (its `owner` token) until its lease runs out.
//! - A write stores its response with [`complete`] inside its own transaction: the key is
//!   answered exactly when the write committed. `complete` checks the owner, so an attempt that
//!   lost its reservation (it outlived the lease and a retry took over) rolls its write back.
//! - An attempt that died (process killed, database gone before it could [`release`]) leaves a
//!   reservation with no response; once the lease has run out, the next retry takes it over.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rapport_domain::conflict::Conflict;

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

/// One attempt's hold on a key: whoever holds it may store the key's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub principal: String,
    pub key: String,
    /// A token of this attempt alone.
    pub owner: String,
}

/// What the store knows about a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Reservation {
    /// The key was free (or its last attempt's lease had run out) and is now held by this
    /// attempt.
    Reserved,
    /// The same request already completed: replay this.
    Completed(StoredResponse),
    /// Another attempt holds the key until this instant.
    InProgress { until: DateTime<Utc> },
    /// The key was used for a different request.
    Mismatch,
}

type Row = (
    String,
    Option<i32>,
    Option<Vec<u8>>,
    Option<DbJson>,
    Option<DbTime>,
);

/// Reserves `claim.key` for `claim.owner` until `lease_until`, or says why not. Keys created
/// before `expire_before` are forgotten first.
pub fn reserve(
    conn: &mut DbConn,
    claim: &Claim,
    request_hash: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    expire_before: DateTime<Utc>,
) -> StoreResult<Reservation> {
    let this_key = ik::principal
        .eq(&claim.principal)
        .and(ik::key.eq(&claim.key));
    diesel::delete(
        ik::table
            .filter(this_key)
            .filter(ik::created_at.lt(DbTime(expire_before))),
    )
    .execute(conn)?;
    // In its own savepoint: on PostgreSQL a failed statement would otherwise abort the caller's
    // transaction, and the read below must still run.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(ik::table)
            .values((
                ik::principal.eq(&claim.principal),
                ik::key.eq(&claim.key),
                ik::request_hash.eq(request_hash),
                ik::created_at.eq(DbTime(now)),
                ik::owner.eq(Some(&claim.owner)),
                ik::lease_until.eq(Some(DbTime(lease_until))),
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
        .filter(this_key)
        .select((
            ik::request_hash,
            ik::status_code,
            ik::response_body,
            ik::response_headers,
            ik::lease_until,
        ))
        .first(conn)
        .optional()?;
    let Some((hash, status, body, headers, lease)) = row else {
        // Deleted between the insert and the read (expired by another request): busy for now.
        return Ok(Reservation::InProgress { until: now });
    };
    if hash != request_hash {
        return Ok(Reservation::Mismatch);
    }
    if let (Some(status), Some(body)) = (status, body) {
        let headers: Vec<(String, String)> = match headers {
            Some(h) => h
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("idempotency headers: {e}")))?,
            None => Vec::new(),
        };
        return Ok(Reservation::Completed(StoredResponse {
            status: status as u16,
            body,
            headers,
        }));
    }
    // Held by an attempt whose lease still runs: it may yet answer.
    if let Some(DbTime(until)) = lease.filter(|l| l.0 > now) {
        return Ok(Reservation::InProgress { until });
    }
    // The last attempt died (or outlived its lease): take the key over, unless another retry
    // just did. The lease guard makes the takeover a compare-and-set; on PostgreSQL it waits for
    // an attempt whose write is committing now, and then finds the key answered or taken.
    let taken = diesel::update(
        ik::table
            .filter(this_key)
            .filter(ik::status_code.is_null())
            .filter(
                ik::lease_until
                    .is_null()
                    .or(ik::lease_until.le(Some(DbTime(now)))),
            ),
    )
    .set((
        ik::owner.eq(Some(&claim.owner)),
        ik::lease_until.eq(Some(DbTime(lease_until))),
    ))
    .execute(conn)?;
    if taken == 1 {
        Ok(Reservation::Reserved)
    } else {
        Ok(Reservation::InProgress { until: lease_until })
    }
}

/// Stores the response of a key this attempt holds. Run it inside the transaction of the write
/// it answers for, so that both commit or neither does. Fails with the conflict
/// `idempotency_taken_over` when another attempt holds the key now.
pub fn complete(
    conn: &mut DbConn,
    claim: &Claim,
    response: &StoredResponse,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let stored = diesel::update(
        ik::table
            .filter(ik::principal.eq(&claim.principal))
            .filter(ik::key.eq(&claim.key))
            .filter(ik::owner.eq(&claim.owner))
            .filter(ik::status_code.is_null()),
    )
    .set((
        ik::status_code.eq(Some(i32::from(response.status))),
        ik::response_body.eq(Some(&response.body)),
        ik::response_headers.eq(Some(DbJson::of(&response.headers))),
        ik::completed_at.eq(Some(DbTime(now))),
    ))
    .execute(conn)?;
    if stored == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(Conflict::IdempotencyTakenOver))
    }
}

/// Frees a key this attempt holds, after its request failed on our side, so that a retry can
/// run at once.
pub fn release(conn: &mut DbConn, claim: &Claim) -> StoreResult<()> {
    diesel::delete(
        ik::table
            .filter(ik::principal.eq(&claim.principal))
            .filter(ik::key.eq(&claim.key))
            .filter(ik::owner.eq(&claim.owner))
            .filter(ik::status_code.is_null()),
    )
    .execute(conn)?;
    Ok(())
}
