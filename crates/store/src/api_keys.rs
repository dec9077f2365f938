//! API keys: stored as a SHA-256 hash of the secret (keys are 256 random bits, so a slow hash
//! adds nothing but latency), with scopes, expiry, revocation and last use.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rapport_domain::auth::{ApiKey, ApiKeySettings, Scopes};
use rapport_domain::conflict::Conflict;
use uuid::Uuid;

use crate::db::DbConn;
use crate::schema::api_keys;
use crate::types::{DbTime, DbUuid};
use crate::{StoreError, StoreResult};

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_keys)]
struct Row {
    id: DbUuid,
    name: String,
    prefix: String,
    scopes: String,
    created_by: Option<String>,
    created_at: DbTime,
    expires_at: Option<DbTime>,
    last_used_at: Option<DbTime>,
    revoked_at: Option<DbTime>,
    version: i64,
}

impl Row {
    fn into_domain(self) -> StoreResult<ApiKey> {
        let scopes = Scopes::parse_list(&self.scopes)
            .map_err(|s| StoreError::Corrupt(format!("unknown scope {s}")))?;
        Ok(ApiKey {
            id: self.id.0,
            name: self.name,
            prefix: self.prefix,
            scopes: scopes.as_slice().to_vec(),
            created_by: self.created_by,
            created_at: self.created_at.0,
            expires_at: self.expires_at.map(|t| t.0),
            last_used_at: self.last_used_at.map(|t| t.0),
            revoked_at: self.revoked_at.map(|t| t.0),
            version: self.version,
        })
    }
}

/// What a new key row holds; the caller made the secret and hashed it.
pub struct NewApiKey<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub scopes: &'a Scopes,
    pub created_by: Option<&'a str>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub fn insert(conn: &mut DbConn, key: &NewApiKey<'_>) -> StoreResult<ApiKey> {
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(DbUuid(key.id)),
            api_keys::name.eq(key.name),
            api_keys::prefix.eq(key.prefix),
            api_keys::key_hash.eq(key.key_hash),
            api_keys::scopes.eq(key.scopes.to_list()),
            api_keys::created_by.eq(key.created_by),
            api_keys::created_at.eq(DbTime(key.created_at)),
            api_keys::expires_at.eq(key.expires_at.map(DbTime)),
        ))
        .execute(conn)?;
    get(conn, key.id)
}

pub fn get(conn: &mut DbConn, id: Uuid) -> StoreResult<ApiKey> {
    api_keys::table
        .find(DbUuid(id))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?
        .into_domain()
}

/// The key with this secret hash, revoked or not (the caller decides).
pub fn find_by_hash(conn: &mut DbConn, key_hash: &str) -> StoreResult<Option<ApiKey>> {
    api_keys::table
        .filter(api_keys::key_hash.eq(key_hash))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Row::into_domain)
        .transpose()
}

/// One page of keys, oldest first (ids are time-ordered). The cursor names this list: one
/// from another list is an invalid cursor.
pub fn page(
    conn: &mut DbConn,
    include_revoked: bool,
    cursor: Option<&str>,
    limit: i64,
) -> StoreResult<crate::page::Page<ApiKey>> {
    let after: Option<Uuid> = crate::page::list_key(cursor, "api_keys")?;
    let mut q = api_keys::table
        .select(Row::as_select())
        .order(api_keys::id.asc())
        .limit(limit + 1)
        .into_boxed();
    if !include_revoked {
        q = q.filter(api_keys::revoked_at.is_null());
    }
    if let Some(a) = after {
        q = q.filter(api_keys::id.gt(DbUuid(a)));
    }
    crate::page::Page::from_rows(q.load(conn)?, limit, Row::into_domain, |k: &ApiKey| {
        crate::page::list_token("api_keys", k.id)
    })
}

pub fn list(conn: &mut DbConn, include_revoked: bool) -> StoreResult<Vec<ApiKey>> {
    let mut q = api_keys::table
        .select(Row::as_select())
        .order(api_keys::id.asc())
        .into_boxed();
    if !include_revoked {
        q = q.filter(api_keys::revoked_at.is_null());
    }
    q.load(conn)?.into_iter().map(Row::into_domain).collect()
}

pub fn count(conn: &mut DbConn) -> StoreResult<i64> {
    Ok(api_keys::table.count().get_result(conn)?)
}

/// Revokes a key if its version is still `expected` (when given; else `VersionMismatch`);
/// revoking twice keeps the first time and the version.
pub fn revoke(
    conn: &mut DbConn,
    id: Uuid,
    expected: Option<i64>,
    at: DateTime<Utc>,
) -> StoreResult<ApiKey> {
    let current = get(conn, id)?;
    if current.revoked_at.is_some() {
        return Ok(current);
    }
    if expected.is_some_and(|v| v != current.version) {
        return Err(StoreError::VersionMismatch);
    }
    let n = diesel::update(
        api_keys::table
            .find(DbUuid(id))
            .filter(api_keys::version.eq(current.version))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set((
        api_keys::revoked_at.eq(DbTime(at)),
        api_keys::version.eq(current.version + 1),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::VersionMismatch);
    }
    get(conn, id)
}

/// Stores a key's new settings if its version is still `expected` (else `VersionMismatch`),
/// bumping the version; a revoked key takes no changes (`api_key_revoked`).
pub fn update(
    conn: &mut DbConn,
    id: Uuid,
    expected: i64,
    settings: &ApiKeySettings,
) -> StoreResult<ApiKey> {
    let current = get(conn, id)?;
    if current.revoked_at.is_some() {
        return Err(StoreError::Conflict(Conflict::ApiKeyRevoked));
    }
    let n = diesel::update(
        api_keys::table
            .find(DbUuid(id))
            .filter(api_keys::version.eq(expected))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set((
        api_keys::name.eq(&settings.name),
        api_keys::scopes.eq(Scopes::new(settings.scopes.clone()).to_list()),
        api_keys::expires_at.eq(settings.expires_at.map(DbTime)),
        api_keys::version.eq(expected + 1),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::VersionMismatch);
    }
    get(conn, id)
}

pub fn touch(conn: &mut DbConn, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
    diesel::update(api_keys::table.find(DbUuid(id)))
        .set(api_keys::last_used_at.eq(DbTime(at)))
        .execute(conn)?;
    Ok(())
}
