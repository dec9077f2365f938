//! Keyset pagination. A cursor is the sort key and id of the last row of a page, so fetching
//! page 10 000 costs one index seek, like page 1. Cursors are opaque to clients (base64url of a
//! small JSON document) and bound to the sort they were made for.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A page of results and the cursor to the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from the `limit + 1` rows a keyset query fetched: the extra row only says there is
    /// a next page, whose cursor `token` makes from the page's last item.
    pub(crate) fn from_rows<R>(
        mut rows: Vec<R>,
        limit: i64,
        item: impl FnMut(R) -> Result<T, StoreError>,
        token: impl Fn(&T) -> String,
    ) -> Result<Self, StoreError> {
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let items = rows.into_iter().map(item).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = match items.last() {
            Some(last) if more => Some(token(last)),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }
}

/// Position after which the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort this cursor belongs to, e.g. `-created_at`.
    pub s: String,
    /// Sort-key value of the last row, as text.
    pub k: String,
    /// Id of the last row: the tie-breaker.
    pub id: uuid::Uuid,
}

/// An opaque token: base64url of a small JSON document. Every list's cursor is one.
pub fn encode_token<T: Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

/// The key in a cursor made by [`list_token`] for `list`: `None` without a cursor, and an
/// invalid cursor for a token of another list (or no token at all).
pub fn list_key<K: serde::de::DeserializeOwned>(
    cursor: Option<&str>,
    list: &str,
) -> Result<Option<K>, StoreError> {
    let Some(text) = cursor else {
        return Ok(None);
    };
    let (name, key): (String, K) = decode_token(text)?;
    if name == list {
        Ok(Some(key))
    } else {
        Err(StoreError::InvalidCursor)
    }
}

/// A cursor for the list named `list` that resumes after `key`.
pub fn list_token<K: Serialize>(list: &str, key: K) -> String {
    encode_token(&(list, key))
}

/// Reads back a token made by [`encode_token`]; anything else is an invalid cursor.
pub fn decode_token<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| StoreError::InvalidCursor)?;
    serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)
}

impl Cursor {
    /// The cursor as a token of the list named `list`.
    pub fn encode(&self, list: &str) -> String {
        list_token(list, self)
    }

    /// A token of `list` made under `sort`; anything else (another list's, another sort's, not
    /// a cursor) is an invalid cursor.
    pub fn decode(text: &str, list: &str, sort: &str) -> Result<Self, StoreError> {
        let cursor: Cursor = list_key(Some(text), list)?.ok_or(StoreError::InvalidCursor)?;
        if cursor.s != sort {
            return Err(StoreError::InvalidCursor);
        }
        Ok(cursor)
    }
}

/// The `(time, id)` position a cursor of `list` under `sort` resumes after.
pub(crate) fn time_key(
    cursor: Option<&str>,
    list: &str,
    sort: &str,
) -> Result<Option<(chrono::DateTime<chrono::Utc>, uuid::Uuid)>, StoreError> {
    cursor
        .map(|text| {
            let c = Cursor::decode(text, list, sort)?;
            chrono::DateTime::parse_from_rfc3339(&c.k)
                .map(|k| (k.with_timezone(&chrono::Utc), c.id))
                .map_err(|_| StoreError::InvalidCursor)
        })
        .transpose()
}

/// A cursor of `list` under `sort` that resumes after the row at `at` with `id`.
pub(crate) fn time_token(
    list: &str,
    sort: &str,
    at: chrono::DateTime<chrono::Utc>,
    id: uuid::Uuid,
) -> String {
    Cursor {
        s: sort.to_owned(),
        k: at.to_rfc3339(),
        id,
    }
    .encode(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_sort() {
        let c = Cursor {
            s: "-created_at".into(),
            k: "2026-01-01T00:00:00Z".into(),
            id: uuid::Uuid::now_v7(),
        };
        let text = c.encode("customers");
        assert_eq!(
            Cursor::decode(&text, "customers", "-created_at").unwrap(),
            c
        );
        assert!(Cursor::decode(&text, "customers", "created_at").is_err());
        assert!(Cursor::decode(&text, "tickets", "-created_at").is_err());
        assert!(Cursor::decode("not a cursor", "customers", "created_at").is_err());
    }
}

/// `query LIMIT n` with `n` written into the SQL rather than bound, for keyset pages.
///
/// PostgreSQL plans a prepared statement for each execution ("custom plan") until a plan for any
/// parameters ("generic plan") looks no dearer. With `LIMIT $1` it never does: not knowing the
/// limit, the generic plan is costed for a tenth of the table, and every page was planned again, a
/// large part of what a page cost PostgreSQL (measured: see docs/benchmarks.md). With the limit in
/// the text the generic plan is chosen after five executions (and is the same index scan). Each
/// distinct limit is its own cached statement; page sizes are a small set (1 to 201).
#[derive(Debug, Clone, Copy)]
pub struct Limited<Q> {
    query: Q,
    limit: i64,
}

/// See [`Limited`].
pub fn limited<Q>(query: Q, limit: i64) -> Limited<Q> {
    Limited { query, limit }
}

impl<Q> diesel::query_builder::QueryId for Limited<Q> {
    type QueryId = ();
    // The SQL differs by limit: diesel caches the statement by its text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Limited<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Limited<Q>
where
    DB: diesel::backend::Backend,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        out.push_sql(&self.limit.max(0).to_string());
        Ok(())
    }
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for Limited<Q> {}

/// A keyset page's bound value, hidden from PostgreSQL's planner as `(SELECT $n)`; plain `?` on
/// SQLite.
///
/// PostgreSQL plans a prepared statement with its parameters' values ("custom plan") and keeps
/// doing so while that looks cheaper than a plan for any values. For a page after a cursor it does,
/// as long as the cursor sits in the first two thirds of the table: the histogram says more rows
/// follow it than the default guess, so the `LIMIT` looks cheaper. Every such page was planned
/// again, and late pages ran slower than the first (measured: see docs/benchmarks.md). Behind a
/// sub-select the value is unknown to both plans, they cost the same, and the plan is reused after
/// five runs; it is still the index seek (`Index Cond: created_at >= $0`).
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
pub struct Opaque<T>(pub T);

impl<T: diesel::Expression> diesel::Expression for Opaque<T> {
    type SqlType = T::SqlType;
}

impl<T, QS> diesel::AppearsOnTable<QS> for Opaque<T> where T: diesel::AppearsOnTable<QS> {}
impl<T, QS> diesel::SelectableExpression<QS> for Opaque<T> where T: diesel::SelectableExpression<QS> {}

impl<T, G> diesel::expression::ValidGrouping<G> for Opaque<T>
where
    T: diesel::expression::ValidGrouping<G>,
{
    type IsAggregate = T::IsAggregate;
}

impl<T> diesel::query_builder::QueryFragment<diesel::pg::Pg> for Opaque<T>
where
    T: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("(SELECT ");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}

impl<T> diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for Opaque<T>
where
    T: diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>,
{
    fn walk_ast<'b>(
        &'b self,
        out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> diesel::QueryResult<()> {
        self.0.walk_ast(out)
    }
}

/// See [`Opaque`]: `value` bound as an expression of `ST`.
pub fn opaque<ST, T>(value: T) -> Opaque<diesel::dsl::AsExprOf<T, ST>>
where
    ST: diesel::sql_types::SqlType + diesel::sql_types::SingleValue,
    T: diesel::expression::AsExpression<ST>,
{
    Opaque(value.as_expression())
}
