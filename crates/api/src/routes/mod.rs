//! HTTP routes, one module per resource; each exposes `configure`.

pub mod api_keys;
pub mod auth;
pub mod customers;
pub mod docs;
pub mod duplicates;
pub mod health;
pub mod interactions;
pub mod transfer;
pub mod users;

use serde::Serialize;
use utoipa::ToSchema;

/// A page of a list: the items and the cursor to the next page (absent on the last page).
#[derive(Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}
