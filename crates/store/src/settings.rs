//! Instance-wide settings shared by every server process (e.g. the generated JWT secret).

use diesel::prelude::*;

use crate::db::DbConn;
use crate::schema::settings;
use crate::StoreResult;

pub fn get(conn: &mut DbConn, key: &str) -> StoreResult<Option<String>> {
    Ok(settings::table
        .find(key)
        .select(settings::value)
        .first(conn)
        .optional()?)
}

/// Stores `value` under `key` unless a value is already there, and returns the stored one.
/// Safe when several processes start at once: the first writer wins, the others read its value.
pub fn get_or_insert(conn: &mut DbConn, key: &str, value: &str) -> StoreResult<String> {
    if let Some(existing) = get(conn, key)? {
        return Ok(existing);
    }
    let inserted = diesel::insert_into(settings::table)
        .values((settings::key.eq(key), settings::value.eq(value)))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(value.to_owned()),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => get(conn, key)?.ok_or(crate::StoreError::NotFound),
        Err(e) => Err(e.into()),
    }
}
