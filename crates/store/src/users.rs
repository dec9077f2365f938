//! Staff users and their refresh tokens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rapport_domain::auth::{Role, User, UserSettings};
use rapport_domain::conflict::Conflict;
use uuid::Uuid;

use crate::db::DbConn;
use crate::schema::{refresh_tokens, users};
use crate::types::{DbTime, DbUuid};
use crate::{StoreError, StoreResult};

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct Row {
    id: DbUuid,
    email: String,
    name: String,
    role: String,
    password_hash: String,
    created_at: DbTime,
    updated_at: DbTime,
    disabled_at: Option<DbTime>,
    version: i64,
}

impl Row {
    fn into_domain(self) -> StoreResult<(User, String)> {
        let role = Role::parse(&self.role)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown role {}", self.role)))?;
        Ok((
            User {
                id: self.id.0,
                email: self.email,
                name: self.name,
                role,
                created_at: self.created_at.0,
                updated_at: self.updated_at.0,
                disabled_at: self.disabled_at.map(|t| t.0),
                version: self.version,
            },
            self.password_hash,
        ))
    }
}

pub fn insert(conn: &mut DbConn, user: &User, password_hash: &str) -> StoreResult<()> {
    diesel::insert_into(users::table)
        .values((
            users::id.eq(DbUuid(user.id)),
            users::email.eq(&user.email),
            users::name.eq(&user.name),
            users::role.eq(user.role.as_str()),
            users::password_hash.eq(password_hash),
            users::created_at.eq(DbTime(user.created_at)),
            users::updated_at.eq(DbTime(user.updated_at)),
            users::version.eq(user.version),
        ))
        .execute(conn)
        .map_err(StoreError::unique(Conflict::DuplicateEmail))?;
    Ok(())
}

/// The user with this e-mail and their password hash.
pub fn find_by_email(conn: &mut DbConn, email: &str) -> StoreResult<Option<(User, String)>> {
    users::table
        .filter(users::email.eq(email))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Row::into_domain)
        .transpose()
}

pub fn get(conn: &mut DbConn, id: Uuid) -> StoreResult<User> {
    users::table
        .find(DbUuid(id))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?
        .into_domain()
        .map(|(u, _)| u)
}

/// A refresh token row, as the rotation logic needs it.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub fn insert_refresh_token(
    conn: &mut DbConn,
    token: &RefreshToken,
    token_hash: &str,
    created_at: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(DbUuid(token.id)),
            refresh_tokens::user_id.eq(DbUuid(token.user_id)),
            refresh_tokens::family_id.eq(DbUuid(token.family_id)),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::created_at.eq(DbTime(created_at)),
            refresh_tokens::expires_at.eq(DbTime(token.expires_at)),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
struct TokenRow {
    id: DbUuid,
    user_id: DbUuid,
    family_id: DbUuid,
    expires_at: DbTime,
    used_at: Option<DbTime>,
    revoked_at: Option<DbTime>,
}

pub fn find_refresh_token(
    conn: &mut DbConn,
    token_hash: &str,
) -> StoreResult<Option<RefreshToken>> {
    let row = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(|r| RefreshToken {
        id: r.id.0,
        user_id: r.user_id.0,
        family_id: r.family_id.0,
        expires_at: r.expires_at.0,
        used_at: r.used_at.map(|t| t.0),
        revoked_at: r.revoked_at.map(|t| t.0),
    }))
}

/// Marks a token used, only if nobody used it first. Returns false when it lost that race
/// (or was already used): the caller must then treat the token as replayed.
pub fn mark_refresh_token_used(
    conn: &mut DbConn,
    id: Uuid,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let n = diesel::update(
        refresh_tokens::table
            .find(DbUuid(id))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(DbTime(at)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Revokes every token of a family (sign-out, or a replayed token: theft is assumed).
pub fn revoke_refresh_family(
    conn: &mut DbConn,
    family_id: Uuid,
    at: DateTime<Utc>,
) -> StoreResult<usize> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(DbUuid(family_id)))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(DbTime(at)))
    .execute(conn)?)
}

pub fn count(conn: &mut DbConn) -> StoreResult<i64> {
    Ok(users::table.count().get_result(conn)?)
}

/// One page of users by e-mail. The cursor names this list: one from another list is an
/// invalid cursor.
pub fn page(
    conn: &mut DbConn,
    cursor: Option<&str>,
    limit: i64,
) -> StoreResult<crate::page::Page<User>> {
    let after: Option<String> = crate::page::list_key(cursor, "users")?;
    let mut q = users::table
        .select(Row::as_select())
        .order(users::email.asc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(users::email.gt(a));
    }
    crate::page::Page::from_rows(
        q.load(conn)?,
        limit,
        |r: Row| r.into_domain().map(|(u, _)| u),
        |u: &User| crate::page::list_token("users", &u.email),
    )
}

/// Stores a user's new settings if its version is still `expected` (else `VersionMismatch`),
/// bumping the version. Disabling revokes every refresh token of the user, signing them out
/// everywhere; enabling keeps the first `disabled_at` out.
pub fn update(
    conn: &mut DbConn,
    id: Uuid,
    expected: i64,
    settings: &UserSettings,
    now: DateTime<Utc>,
) -> StoreResult<User> {
    let current = get(conn, id)?;
    let disabled_at = match settings.disabled {
        true => current.disabled_at.or(Some(now)),
        false => None,
    };
    let n = diesel::update(
        users::table
            .find(DbUuid(id))
            .filter(users::version.eq(expected)),
    )
    .set((
        users::name.eq(&settings.name),
        users::role.eq(settings.role.as_str()),
        users::disabled_at.eq(disabled_at.map(DbTime)),
        users::updated_at.eq(DbTime(now)),
        users::version.eq(expected + 1),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(StoreError::VersionMismatch);
    }
    if disabled_at.is_some() {
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::user_id.eq(DbUuid(id)))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(DbTime(now)))
        .execute(conn)?;
    }
    get(conn, id)
}
