//! Interactions, and the purchase totals derived from them.
//!
//! Every write path (create, patch, delete, import, merge) ends with [`recompute_totals`] for the
//! customers it touched, inside its transaction: the totals are recomputed from the interactions,
//! never adjusted by deltas, so they cannot drift. On PostgreSQL the customers are locked first
//! ([`lock_customers`](crate::customers::lock_customers)) so that two transactions recording purchases for the same customer do not
//! each recompute without the other's row; SQLite writes are serialised anyway.

use rapport_domain::conflict::Conflict;
use std::borrow::Cow;

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use rapport_domain::customer::Channel;
use rapport_domain::interaction::{
    Agent, CurrencyTotal, Direction, Interaction, InteractionDraft, InteractionKind,
    PurchaseSummary,
};
use uuid::Uuid;

use crate::customers::{live_customer, lock_customers};
use crate::db::DbConn;
use crate::page::Page;
use crate::schema::{customer_purchase_totals as totals, interactions};
use crate::types::{DbJson, DbTime, DbUuid};
use crate::{StoreError, StoreResult};

#[derive(Queryable, Selectable)]
#[diesel(table_name = interactions)]
struct Row {
    id: DbUuid,
    customer_id: DbUuid,
    channel: String,
    kind: String,
    direction: Option<String>,
    occurred_at: DbTime,
    subject: Option<String>,
    body: Option<String>,
    source: String,
    external_ref: Option<String>,
    metadata: DbJson,
    amount_minor: Option<i64>,
    currency: Option<String>,
    product_category: Option<String>,
    campaign_id: Option<DbUuid>,
    order_ref: Option<String>,
    agent_type: Option<String>,
    agent_id: Option<DbUuid>,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

fn corrupt(column: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("interactions.{column}: {value}"))
}

impl Row {
    fn into_domain(self) -> StoreResult<Interaction> {
        let draft = InteractionDraft {
            customer_id: self.customer_id.0,
            channel: Channel::parse(&self.channel)
                .ok_or_else(|| corrupt("channel", &self.channel))?,
            kind: InteractionKind::parse(&self.kind).ok_or_else(|| corrupt("kind", &self.kind))?,
            direction: match self.direction {
                Some(d) => Some(Direction::parse(&d).ok_or_else(|| corrupt("direction", &d))?),
                None => None,
            },
            occurred_at: self.occurred_at.0,
            subject: self.subject,
            body: self.body,
            source: Some(self.source),
            external_ref: self.external_ref,
            metadata: self
                .metadata
                .parse()
                .map_err(|e| corrupt("metadata", &e.to_string()))?,
            amount_minor: self.amount_minor,
            currency: self.currency,
            product_category: self.product_category,
            campaign_id: self.campaign_id.map(|c| c.0),
            order_ref: self.order_ref,
        };
        let agent = match (self.agent_type, self.agent_id) {
            (Some(kind), Some(id)) => {
                Some(Agent::from_parts(&kind, id.0).ok_or_else(|| corrupt("agent_type", &kind))?)
            }
            _ => None,
        };
        Ok(Interaction {
            id: self.id.0,
            draft,
            agent,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            version: self.version,
        })
    }
}

/// The columns a draft sets, shared by insert, batch insert and update.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = interactions, treat_none_as_null = true, treat_none_as_default_value = false)]
pub(crate) struct Fields<'a> {
    customer_id: DbUuid,
    channel: &'static str,
    kind: &'static str,
    direction: Option<&'static str>,
    occurred_at: DbTime,
    subject: Option<Cow<'a, str>>,
    body: Option<Cow<'a, str>>,
    source: Cow<'a, str>,
    external_ref: Option<Cow<'a, str>>,
    metadata: DbJson,
    amount_minor: Option<i64>,
    currency: Option<Cow<'a, str>>,
    product_category: Option<Cow<'a, str>>,
    campaign_id: Option<DbUuid>,
    order_ref: Option<Cow<'a, str>>,
    updated_at: DbTime,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(d: &'a InteractionDraft, now: DateTime<Utc>) -> Self {
        let text = |s: &'a Option<String>| s.as_deref().map(Cow::Borrowed);
        Self {
            customer_id: DbUuid(d.customer_id),
            channel: d.channel.as_str(),
            kind: d.kind.as_str(),
            direction: d.direction.map(|v| v.as_str()),
            occurred_at: DbTime(d.occurred_at),
            subject: text(&d.subject),
            body: text(&d.body),
            source: Cow::Borrowed(d.source()),
            external_ref: text(&d.external_ref),
            metadata: DbJson::of(&d.metadata),
            amount_minor: d.amount_minor,
            currency: text(&d.currency),
            product_category: text(&d.product_category),
            campaign_id: d.campaign_id.map(DbUuid),
            order_ref: text(&d.order_ref),
            updated_at: DbTime(now),
        }
    }

    /// The same columns, owning their text: what a statement diesel prepares once and keeps
    /// (a batch insert over a fixed-size array) needs.
    fn into_owned(self) -> Fields<'static> {
        let own = |s: Option<Cow<'a, str>>| s.map(|s| Cow::Owned(s.into_owned()));
        Fields {
            subject: own(self.subject),
            body: own(self.body),
            source: Cow::Owned(self.source.into_owned()),
            external_ref: own(self.external_ref),
            currency: own(self.currency),
            product_category: own(self.product_category),
            order_ref: own(self.order_ref),
            ..self
        }
    }
}

/// A whole new row: the draft's fields plus identity.
#[derive(Insertable)]
#[diesel(table_name = interactions, treat_none_as_default_value = false)]
pub(crate) struct NewRow<'a> {
    id: DbUuid,
    #[diesel(embed)]
    fields: Fields<'a>,
    agent_type: Option<&'static str>,
    agent_id: Option<DbUuid>,
    version: i64,
    created_at: DbTime,
}

impl<'a> NewRow<'a> {
    pub(crate) fn new(
        id: Uuid,
        d: &'a InteractionDraft,
        agent: Option<Agent>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: DbUuid(id),
            fields: Fields::new(d, now),
            agent_type: agent.map(|a| a.kind()),
            agent_id: agent.map(|a| DbUuid(a.id())),
            version: 1,
            created_at: DbTime(now),
        }
    }

    /// See [`Fields::into_owned`].
    pub(crate) fn into_owned(self) -> NewRow<'static> {
        NewRow {
            fields: self.fields.into_owned(),
            ..self
        }
    }
}

/// The interaction with this `(source, external_ref)`, if any.
pub fn find_external(
    conn: &mut DbConn,
    source: &str,
    external_ref: &str,
) -> StoreResult<Option<Interaction>> {
    interactions::table
        .filter(interactions::source.eq(source))
        .filter(interactions::external_ref.eq(external_ref))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Row::into_domain)
        .transpose()
}

/// The draft with its customer as they are now (see [`crate::customers::with_current_customer`]).
fn with_current_customer<'a>(
    conn: &mut DbConn,
    draft: &'a InteractionDraft,
) -> StoreResult<Cow<'a, InteractionDraft>> {
    crate::customers::with_current_customer(
        conn,
        draft,
        |d| d.customer_id,
        |d, id| d.customer_id = id,
    )
}

/// The interaction recorded under this draft's source and `external_ref`, if any: a retry of the
/// same event gets it back; different details under a known reference are
/// `DuplicateExternalRef` naming it.
fn known_event(conn: &mut DbConn, draft: &InteractionDraft) -> StoreResult<Option<Interaction>> {
    let Some(r) = &draft.external_ref else {
        return Ok(None);
    };
    match find_external(conn, draft.source(), r)? {
        Some(existing) if existing.draft.same_event(draft) => Ok(Some(existing)),
        Some(existing) => Err(StoreError::Conflict(Conflict::DuplicateExternalRef {
            existing_id: Some(existing.id),
        })),
        None => Ok(None),
    }
}

/// Records an interaction. With an `external_ref` already known for its source, nothing is
/// written and the existing one is returned, `(interaction, false)`, when it is the same event
/// (see [`InteractionDraft::same_event`]); otherwise `DuplicateExternalRef`.
pub fn insert(
    conn: &mut DbConn,
    draft: &InteractionDraft,
    agent: Option<Agent>,
    now: DateTime<Utc>,
) -> StoreResult<Recorded> {
    let draft = &*with_current_customer(conn, draft)?;
    if let Some(existing) = known_event(conn, draft)? {
        return Ok(Recorded::existing(existing));
    }
    let id = rapport_domain::new_id();
    let mut earned = None;
    let inserted = conn.transaction(|conn| {
        lock_customers(conn, &[draft.customer_id])?;
        live_customer(conn, draft.customer_id)?;
        diesel::insert_into(interactions::table)
            .values(NewRow::new(id, draft, agent, now))
            .execute(conn)
            .map_err(StoreError::unique(Conflict::DuplicateExternalRef {
                existing_id: None,
            }))?;
        if draft.is_purchase() {
            recompute_totals(conn, &[draft.customer_id])?;
            earned = earn(conn, id, draft, now)?;
        }
        Ok::<_, StoreError>(())
    });
    match inserted {
        Ok(()) => {}
        // Lost a race with a create of the same external reference: that one stands.
        Err(e @ StoreError::Conflict(Conflict::DuplicateExternalRef { .. })) => {
            return match known_event(conn, draft)? {
                Some(existing) => Ok(Recorded::existing(existing)),
                None => Err(e),
            };
        }
        Err(e) => return Err(e),
    }
    let mut stored = draft.clone();
    stored.source = Some(draft.source().to_owned());
    Ok(Recorded {
        interaction: Interaction {
            id,
            draft: stored,
            agent,
            created_at: now,
            updated_at: now,
            version: 1,
        },
        created: true,
        earned,
    })
}

/// What [`insert`] did.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub interaction: Interaction,
    /// False when the interaction was there already (same source and `external_ref`).
    pub created: bool,
    /// The loyalty points a new purchase earned.
    pub earned: Option<rapport_domain::loyalty::Entry>,
}

impl Recorded {
    fn existing(interaction: Interaction) -> Self {
        Recorded {
            interaction,
            created: false,
            earned: None,
        }
    }
}

pub fn get(conn: &mut DbConn, id: Uuid) -> StoreResult<Interaction> {
    interactions::table
        .find(DbUuid(id))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?
        .into_domain()
}

/// Replaces the writable fields if the stored version is still `expected_version`; the totals of
/// the customer before and after (they may differ) are recomputed.
pub fn update(
    conn: &mut DbConn,
    id: Uuid,
    expected_version: i64,
    draft: &InteractionDraft,
    now: DateTime<Utc>,
) -> StoreResult<(Interaction, Vec<rapport_domain::loyalty::Entry>)> {
    let draft = &*with_current_customer(conn, draft)?;
    conn.transaction(|conn| {
        let before = get(conn, id)?;
        let affected = [before.draft.customer_id, draft.customer_id];
        lock_customers(conn, &affected)?;
        if draft.customer_id != before.draft.customer_id {
            live_customer(conn, draft.customer_id)?;
        }
        let n = diesel::update(
            interactions::table
                .find(DbUuid(id))
                .filter(interactions::version.eq(expected_version)),
        )
        .set((
            Fields::new(draft, now),
            interactions::version.eq(expected_version + 1),
        ))
        .execute(conn)
        .map_err(StoreError::unique(Conflict::DuplicateExternalRef {
            existing_id: None,
        }))?;
        if n != 1 {
            return Err(StoreError::VersionMismatch);
        }
        if before.draft.is_purchase() || draft.is_purchase() {
            recompute_totals(conn, &affected)?;
        }
        // What it earned follows what it is now: a purchase changed in kind, customer, amount
        // or currency gives its points back and earns anew.
        let mut moved = Vec::new();
        if earning(&before.draft) != earning(draft) {
            moved = crate::loyalty::reverse_purchase(conn, id, now)?;
            if draft.is_purchase() {
                moved.extend(earn(conn, id, draft, now)?);
            }
        }
        Ok((get(conn, id)?, moved))
    })
}

/// What decides the points a purchase earns.
fn earning(d: &InteractionDraft) -> Option<(Uuid, Option<i64>, Option<&str>)> {
    d.is_purchase()
        .then_some((d.customer_id, d.amount_minor, d.currency.as_deref()))
}

/// A recorded purchase earns loyalty points (see [`crate::loyalty`]).
fn earn(
    conn: &mut DbConn,
    id: Uuid,
    draft: &InteractionDraft,
    now: DateTime<Utc>,
) -> StoreResult<Option<rapport_domain::loyalty::Entry>> {
    match (draft.amount_minor, draft.currency.as_deref()) {
        (Some(amount), Some(currency)) => {
            crate::loyalty::earn_for_purchase(conn, id, draft.customer_id, amount, currency, now)
        }
        _ => Ok(None),
    }
}

/// Deletes an interaction (if its version is still `expected_version`, when given). A
/// purchase's loyalty points are reversed; the ledger entries that did so are returned.
pub fn delete(
    conn: &mut DbConn,
    id: Uuid,
    expected_version: Option<i64>,
) -> StoreResult<Vec<rapport_domain::loyalty::Entry>> {
    conn.transaction(|conn| {
        let before = get(conn, id)?;
        lock_customers(conn, &[before.draft.customer_id])?;
        if expected_version.is_some_and(|v| v != before.version) {
            return Err(StoreError::VersionMismatch);
        }
        diesel::delete(interactions::table.find(DbUuid(id))).execute(conn)?;
        if !before.draft.is_purchase() {
            return Ok(Vec::new());
        }
        recompute_totals(conn, &[before.draft.customer_id])?;
        crate::loyalty::reverse_purchase(conn, id, rapport_domain::now())
    })
}

/// List filters; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct InteractionFilter {
    pub customer_id: Option<Uuid>,
    pub channel: Option<Channel>,
    pub kind: Option<InteractionKind>,
    pub campaign_id: Option<Uuid>,
    pub source: Option<String>,
    pub external_ref: Option<String>,
    /// At or after this instant.
    pub occurred_from: Option<DateTime<Utc>>,
    /// Strictly before this instant.
    pub occurred_to: Option<DateTime<Utc>>,
}

/// Order of an interaction list: by `occurred_at` then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeOrder {
    /// Newest first.
    #[default]
    Desc,
    Asc,
}

impl TimeOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeOrder::Desc => "-occurred_at",
            TimeOrder::Asc => "occurred_at",
        }
    }
}

/// One page of interactions in `order`, after `cursor`.
pub fn list(
    conn: &mut DbConn,
    filter: &InteractionFilter,
    order: TimeOrder,
    cursor: Option<&str>,
    limit: i64,
) -> StoreResult<Page<Interaction>> {
    let after = crate::page::time_key(cursor, "interactions", order.as_str())?;
    // A merged duplicate's id lists its survivor's interactions; an unknown one, none.
    let resolved;
    let filter = match filter.customer_id {
        Some(c) => {
            resolved = InteractionFilter {
                customer_id: Some(crate::customers::resolve_id(conn, c)?.unwrap_or(c)),
                ..filter.clone()
            };
            &resolved
        }
        None => filter,
    };
    let mut items = load(conn, filter, order, after, limit + 1)?;
    // One extra row tells whether there is a next page without a count query.
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = match items.last() {
        Some(last) if more => Some(crate::page::time_token(
            "interactions",
            order.as_str(),
            last.draft.occurred_at,
            last.id,
        )),
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

/// Up to `limit` interactions in `order`, strictly after `after` (an `(occurred_at, id)` key).
pub(crate) fn load(
    conn: &mut DbConn,
    filter: &InteractionFilter,
    order: TimeOrder,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StoreResult<Vec<Interaction>> {
    let mut q = interactions::table.select(Row::as_select()).into_boxed();
    if let Some(c) = filter.customer_id {
        q = q.filter(interactions::customer_id.eq(DbUuid(c)));
    }
    if let Some(c) = filter.channel {
        q = q.filter(interactions::channel.eq(c.as_str()));
    }
    if let Some(k) = filter.kind {
        q = q.filter(interactions::kind.eq(k.as_str()));
    }
    if let Some(c) = filter.campaign_id {
        q = q.filter(interactions::campaign_id.eq(DbUuid(c)));
    }
    if let Some(s) = &filter.source {
        q = q.filter(interactions::source.eq(s.to_lowercase()));
    }
    if let Some(r) = &filter.external_ref {
        q = q.filter(interactions::external_ref.eq(r));
    }
    if let Some(t) = filter.occurred_from {
        q = q.filter(interactions::occurred_at.ge(DbTime(t)));
    }
    if let Some(t) = filter.occurred_to {
        q = q.filter(interactions::occurred_at.lt(DbTime(t)));
    }
    let after = after.map(|(t, id)| (DbTime(t), DbUuid(id)));
    // The leading `>=`/`<=` is what lets the (occurred_at, id) index seek; the rest is exact.
    match order {
        TimeOrder::Asc => {
            if let Some((k, id)) = after {
                q = q
                    .filter(interactions::occurred_at.ge(k))
                    .filter(interactions::occurred_at.gt(k).or(interactions::id.gt(id)));
            }
            q = q.order((interactions::occurred_at.asc(), interactions::id.asc()));
        }
        TimeOrder::Desc => {
            if let Some((k, id)) = after {
                q = q
                    .filter(interactions::occurred_at.le(k))
                    .filter(interactions::occurred_at.lt(k).or(interactions::id.lt(id)));
            }
            q = q.order((interactions::occurred_at.desc(), interactions::id.desc()));
        }
    }
    crate::page::limited(q, limit)
        .load::<Row>(conn)?
        .into_iter()
        .map(Row::into_domain)
        .collect()
}

/// Which customers' totals to recompute.
pub(crate) enum Customers<'a> {
    These(&'a [Uuid]),
    /// Those with an interaction whose id is at least this one: UUIDv7 ids grow with time, so
    /// this is "everyone touched by what was inserted since", without holding the set in memory.
    InsertedSince(Uuid),
}

/// Recomputes the purchase totals of some customers from their `purchase` interactions.
pub(crate) fn recompute_totals(conn: &mut DbConn, ids: &[Uuid]) -> StoreResult<()> {
    recompute(conn, Customers::These(ids))
}

/// The condition of the partial index `interactions_purchases`.
const PURCHASES_ONLY: &str = "kind = 'purchase'";

pub(crate) fn recompute(conn: &mut DbConn, which: Customers<'_>) -> StoreResult<()> {
    macro_rules! run {
        ($targets:expr) => {{
            diesel::delete(totals::table.filter(totals::customer_id.eq_any($targets)))
                .execute(conn)?;
            let aggregated = interactions::table
                // Written out, not bound: only then may SQLite use the partial index
                // `interactions_purchases` (plans do not depend on bound values here).
                .filter(sql::<diesel::sql_types::Bool>(PURCHASES_ONLY))
                .filter(interactions::customer_id.eq_any($targets))
                .group_by((interactions::customer_id, interactions::currency))
                .select((
                    interactions::customer_id,
                    interactions::currency.assume_not_null(),
                    count_star(),
                    sql::<diesel::sql_types::BigInt>("CAST(SUM(amount_minor) AS BIGINT)"),
                    sql::<crate::schema::sql_types::TimestampType>("MIN(occurred_at)"),
                    sql::<crate::schema::sql_types::TimestampType>("MAX(occurred_at)"),
                ));
            diesel::insert_into(totals::table)
                .values(aggregated)
                .into_columns((
                    totals::customer_id,
                    totals::currency,
                    totals::purchase_count,
                    totals::total_minor,
                    totals::first_purchase_at,
                    totals::last_purchase_at,
                ))
                .execute(conn)
                .map_err(overflow)?;
        }};
    }
    match which {
        Customers::These(ids) => {
            let ids: Vec<DbUuid> = ids.iter().copied().map(DbUuid).collect();
            run!(&ids)
        }
        Customers::InsertedSince(start) => {
            let recent = diesel::alias!(interactions as recent);
            run!(recent
                .filter(recent.field(interactions::id).ge(DbUuid(start)))
                .select(recent.field(interactions::customer_id)))
        }
    }
    Ok(())
}

/// A total that no longer fits in 64 bits is the client's doing (enormous amounts), not a fault:
/// a conflict, with the write rolled back.
fn overflow(e: diesel::result::Error) -> StoreError {
    match &e {
        diesel::result::Error::DatabaseError(_, info)
            if info.message().contains("overflow") || info.message().contains("out of range") =>
        {
            StoreError::Conflict(Conflict::PurchaseTotalOverflow)
        }
        _ => StoreError::Db(e),
    }
}

/// A customer's purchase summary as stored.
pub fn purchase_summary(conn: &mut DbConn, customer_id: Uuid) -> StoreResult<PurchaseSummary> {
    let customer_id = crate::customers::current(conn, customer_id)?;
    let rows: Vec<(String, i64, i64, DbTime, DbTime)> = totals::table
        .filter(totals::customer_id.eq(DbUuid(customer_id)))
        .select((
            totals::currency,
            totals::purchase_count,
            totals::total_minor,
            totals::first_purchase_at,
            totals::last_purchase_at,
        ))
        .load(conn)?;
    Ok(PurchaseSummary::from_totals(
        customer_id,
        rows.into_iter()
            .map(|(currency, n, total, first, last)| CurrencyTotal {
                currency,
                purchase_count: n,
                total_minor: total,
                first_purchase_at: first.0,
                last_purchase_at: last.0,
            })
            .collect(),
    ))
}

/// The number of interactions a customer has.
pub fn count_for_customer(conn: &mut DbConn, customer_id: Uuid) -> StoreResult<i64> {
    Ok(interactions::table
        .filter(interactions::customer_id.eq(DbUuid(customer_id)))
        .count()
        .get_result(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purchase_condition_names_the_purchase_kind() {
        assert_eq!(
            PURCHASES_ONLY,
            format!("kind = '{}'", InteractionKind::Purchase.as_str())
        );
    }
}
