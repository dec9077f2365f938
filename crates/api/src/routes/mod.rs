//! HTTP routes, one module per resource; each exposes `configure`.

pub mod api_keys;
pub mod auth;
pub mod customers;
pub mod docs;
pub mod duplicates;
pub mod health;
pub mod interactions;
pub mod loyalty;
pub mod tickets;
pub mod transfer;
pub mod users;

use serde::Serialize;
use utoipa::ToSchema;

/// A list's `limit`: 50 when absent, 1 to 200.
pub(crate) fn page_limit(limit: Option<i64>) -> crate::error::ApiResult<i64> {
    let limit = limit.unwrap_or(50);
    if (1..=200).contains(&limit) {
        Ok(limit)
    } else {
        Err(crate::error::ApiError::new(
            crate::error::Code::InvalidQuery,
            "limit must be between 1 and 200",
        ))
    }
}

/// A page of a list: the items and the cursor to the next page (absent on the last page).
#[derive(Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> From<rapport_store::page::Page<T>> for Page<T> {
    fn from(p: rapport_store::page::Page<T>) -> Self {
        Page {
            data: p.items,
            next_cursor: p.next_cursor,
        }
    }
}

/// The query of a list that only pages: `limit` and `cursor`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The checked page size and the cursor (an empty one is no cursor).
    pub(crate) fn limit_and_cursor(self) -> crate::error::ApiResult<(i64, Option<String>)> {
        Ok((
            page_limit(self.limit)?,
            self.cursor.filter(|c| !c.is_empty()),
        ))
    }
}
