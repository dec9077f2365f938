//! The desk's settings, one JSON value in the settings table.

use diesel::prelude::*;
use rapport_domain::ticket::DeskSettings;

use super::corrupt;
use crate::db::DbConn;
use crate::StoreResult;

const SETTINGS_KEY: &str = "tickets.desk";

pub fn desk_settings(conn: &mut DbConn) -> StoreResult<DeskSettings> {
    match crate::settings::get(conn, SETTINGS_KEY)? {
        None => Ok(DeskSettings::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| corrupt("desk settings", e)),
    }
}

pub fn put_desk_settings(conn: &mut DbConn, s: &DeskSettings) -> StoreResult<DeskSettings> {
    use crate::schema::settings;
    let text = serde_json::to_string(s).map_err(|e| corrupt("desk settings", e))?;
    // An upsert: concurrent writers on several servers each replace the row, none fails.
    let row = (settings::key.eq(SETTINGS_KEY), settings::value.eq(&text));
    match conn {
        DbConn::Sqlite(c) => diesel::insert_into(settings::table)
            .values(row)
            .on_conflict(settings::key)
            .do_update()
            .set(settings::value.eq(&text))
            .execute(c)?,
        DbConn::Pg(c) => diesel::insert_into(settings::table)
            .values(row)
            .on_conflict(settings::key)
            .do_update()
            .set(settings::value.eq(&text))
            .execute(c)?,
    };
    Ok(s.clone())
}
