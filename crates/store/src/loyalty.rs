//! Loyalty: program versions, the append-only ledger, lots and their consumption.
//!
//! Every function that moves points runs inside the caller's write transaction and starts by
//! locking the customer's row on PostgreSQL (`SELECT … FOR UPDATE`), so two writers for one
//! customer, in one process or several, take turns; on SQLite writes are serialised already.
//! Entries are only ever inserted. A lot's `remaining` is what its consumptions left of it,
//! kept with each consumption in the same transaction.

use rapport_domain::conflict::Conflict;
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use rapport_domain::loyalty::{
    self, Account, AdjustmentDraft, Entry, EntryKind, EntrySource, LotUse, OpenLot, Program,
    ProgramDraft, Redemption, RedemptionStatus, Reward, RewardDraft, RewardKind, SourceType,
};
use uuid::Uuid;

use crate::customers::lock_customers;
use crate::db::DbConn;
use crate::page::Page;
use crate::schema::{
    loyalty_consumptions as uses, loyalty_entries as entries, loyalty_lots as lots,
    loyalty_programs as programs, loyalty_redemptions as redemptions,
    loyalty_reward_codes as codes_table, loyalty_rewards as rewards,
};
use crate::types::{DbJson, DbTime, DbUuid};
use crate::{StoreError, StoreResult};

// ---------------------------------------------------------------- program

/// The program in force: the latest version. `None` before the first is written.
pub fn program(conn: &mut DbConn) -> StoreResult<Option<Program>> {
    let row: Option<(i64, DbJson, DbTime)> = programs::table
        .order(programs::version.desc())
        .select((
            programs::version,
            programs::definition,
            programs::created_at,
        ))
        .first(conn)
        .optional()?;
    row.map(|(version, definition, created_at)| {
        Ok(Program {
            version,
            definition: definition
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("loyalty program {version}: {e}")))?,
            created_at: created_at.0,
        })
    })
    .transpose()
}

/// Writes the next version of the program. With `expected_version`, only if that is still the
/// latest (`VersionMismatch` otherwise; 0 means "no program yet").
pub fn put_program(
    conn: &mut DbConn,
    draft: &ProgramDraft,
    expected_version: Option<i64>,
    changed_by: Option<String>,
    now: DateTime<Utc>,
) -> StoreResult<Program> {
    let latest: Option<i64> = programs::table
        .select(diesel::dsl::max(programs::version))
        .first(conn)?;
    let latest = latest.unwrap_or(0);
    if expected_version.is_some_and(|v| v != latest) {
        return Err(StoreError::VersionMismatch);
    }
    let version = latest + 1;
    diesel::insert_into(programs::table)
        .values((
            programs::version.eq(version),
            programs::definition.eq(DbJson::of(draft)),
            programs::changed_by.eq(changed_by),
            programs::created_at.eq(DbTime(now)),
        ))
        .execute(conn)
        // Two writers read the same latest version: the second one's insert collides.
        .map_err(StoreError::unique(Conflict::LoyaltyProgramChanged))?;
    Ok(Program {
        version,
        definition: draft.clone(),
        created_at: now,
    })
}

// ---------------------------------------------------------------- moving points

/// Locks the customer, who must exist (`NotFound`) and not be archived
/// (`Conflict::CustomerArchived`).
fn lock_live_customer(conn: &mut DbConn, customer_id: Uuid) -> StoreResult<()> {
    lock_customers(conn, &[customer_id])?;
    crate::customers::live_customer(conn, customer_id).map_err(|e| match e {
        StoreError::MissingReference(_) => StoreError::NotFound,
        other => other,
    })
}

/// A new entry's columns.
struct NewEntry<'a> {
    id: Uuid,
    customer_id: Uuid,
    kind: EntryKind,
    points: i64,
    reason: Option<&'a str>,
    source: EntrySource,
    reverses_id: Option<Uuid>,
    program_version: Option<i64>,
    at: DateTime<Utc>,
}

fn insert_entry(conn: &mut DbConn, e: &NewEntry<'_>) -> StoreResult<()> {
    diesel::insert_into(entries::table)
        .values((
            entries::id.eq(DbUuid(e.id)),
            entries::customer_id.eq(DbUuid(e.customer_id)),
            entries::kind.eq(e.kind.as_str()),
            entries::points.eq(e.points),
            entries::reason.eq(e.reason),
            entries::source_type.eq(e.source.kind.as_str()),
            entries::source_id.eq(e.source.id.map(DbUuid)),
            entries::reverses_id.eq(e.reverses_id.map(DbUuid)),
            entries::program_version.eq(e.program_version),
            entries::created_at.eq(DbTime(e.at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Awards points: an entry and its lot, expiring as the program says.
fn award(conn: &mut DbConn, e: &NewEntry<'_>, program: Option<&Program>) -> StoreResult<Entry> {
    insert_entry(conn, e)?;
    let expires_at = program.and_then(|p| p.definition.expiry_of(e.at));
    diesel::insert_into(lots::table)
        .values((
            lots::entry_id.eq(DbUuid(e.id)),
            lots::customer_id.eq(DbUuid(e.customer_id)),
            lots::points.eq(e.points),
            lots::remaining.eq(e.points),
            lots::awarded_at.eq(DbTime(e.at)),
            lots::expires_at.eq(expires_at.map(DbTime)),
        ))
        .execute(conn)?;
    Ok(entry_of(e, expires_at, Vec::new()))
}

/// Lots of a customer with points left that have not expired at `now`.
fn spendable_lots(
    conn: &mut DbConn,
    customer_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Vec<OpenLot>> {
    Ok(open_lots(conn, customer_id)?
        .into_iter()
        .filter(|l| l.expires_at.is_none_or(|e| e > now))
        .collect())
}

fn open_lots(conn: &mut DbConn, customer_id: Uuid) -> StoreResult<Vec<OpenLot>> {
    let rows: Vec<(DbUuid, i64, DbTime, Option<DbTime>)> = lots::table
        .filter(lots::customer_id.eq(DbUuid(customer_id)))
        .filter(lots::remaining.gt(0))
        .select((
            lots::entry_id,
            lots::remaining,
            lots::awarded_at,
            lots::expires_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, remaining, awarded_at, expires_at)| OpenLot {
            id: id.0,
            remaining,
            awarded_at: awarded_at.0,
            expires_at: expires_at.map(|e| e.0),
        })
        .collect())
}

/// Takes `-e.points` from the lots `uses` name: the entry, its consumptions, the lots' remainders.
fn take(conn: &mut DbConn, e: &NewEntry<'_>, taken: Vec<LotUse>) -> StoreResult<Entry> {
    insert_entry(conn, e)?;
    for u in &taken {
        diesel::insert_into(uses::table)
            .values((
                uses::entry_id.eq(DbUuid(e.id)),
                uses::lot_id.eq(DbUuid(u.lot_id)),
                uses::points.eq(u.points),
            ))
            .execute(conn)?;
        let changed = diesel::update(
            lots::table
                .filter(lots::entry_id.eq(DbUuid(u.lot_id)))
                .filter(lots::remaining.ge(u.points)),
        )
        .set(lots::remaining.eq(lots::remaining - u.points))
        .execute(conn)?;
        if changed != 1 {
            // The customer's row lock makes this unreachable; never take what is not there.
            return Err(StoreError::Conflict(Conflict::InsufficientPoints));
        }
    }
    Ok(entry_of(e, None, taken))
}

fn entry_of(e: &NewEntry<'_>, expires_at: Option<DateTime<Utc>>, lots: Vec<LotUse>) -> Entry {
    Entry {
        id: e.id,
        customer_id: e.customer_id,
        kind: e.kind,
        points: e.points,
        reason: e.reason.map(str::to_owned),
        source: e.source,
        reverses_id: e.reverses_id,
        program_version: e.program_version,
        expires_at,
        lots,
        created_at: e.at,
    }
}

/// Writes `expire` entries for what is left of this customer's lots that expired by `now`; how
/// many points expired. Runs inside a transaction that has locked the customer.
fn expire_customer(
    conn: &mut DbConn,
    customer_id: Uuid,
    program_version: Option<i64>,
    now: DateTime<Utc>,
) -> StoreResult<i64> {
    let mut total = 0;
    let mut due: Vec<OpenLot> = open_lots(conn, customer_id)?
        .into_iter()
        .filter(|l| l.expires_at.is_some_and(|e| e <= now))
        .collect();
    due.sort_by_key(|l| (l.expires_at, l.awarded_at, l.id));
    for lot in due {
        let e = NewEntry {
            id: rapport_domain::new_id(),
            customer_id,
            kind: EntryKind::Expire,
            points: -lot.remaining,
            reason: Some("points expired"),
            source: EntrySource {
                kind: SourceType::System,
                id: None,
            },
            reverses_id: None,
            program_version,
            at: now,
        };
        take(
            conn,
            &e,
            vec![LotUse {
                lot_id: lot.id,
                points: lot.remaining,
            }],
        )?;
        total += lot.remaining;
    }
    Ok(total)
}

/// A staff or integration adjustment: positive awards a lot, negative takes from the lots
/// (earliest expiry first). Taking more than is spendable is `Conflict::InsufficientPoints`
/// and writes nothing.
pub fn adjust(
    conn: &mut DbConn,
    customer_id: Uuid,
    draft: &AdjustmentDraft,
    source: EntrySource,
    now: DateTime<Utc>,
) -> StoreResult<Entry> {
    let customer_id = crate::customers::current(conn, customer_id)?;
    lock_live_customer(conn, customer_id)?;
    let program = program(conn)?;
    let e = NewEntry {
        id: rapport_domain::new_id(),
        customer_id,
        kind: EntryKind::Adjust,
        points: draft.points,
        reason: Some(&draft.reason),
        source,
        reverses_id: None,
        program_version: program.as_ref().map(|p| p.version),
        at: now,
    };
    if draft.points > 0 {
        return award(conn, &e, program.as_ref());
    }
    let lots = spendable_lots(conn, customer_id, now)?;
    let taken = loyalty::consume(lots, -draft.points)
        .map_err(|_| StoreError::Conflict(Conflict::InsufficientPoints))?;
    take(conn, &e, taken)
}

/// Expires what is left of this customer's lots due by `now`: one `expire` entry per lot; how
/// many points. Idempotent: an expired lot has nothing left to expire.
pub fn expire(conn: &mut DbConn, customer_id: Uuid, now: DateTime<Utc>) -> StoreResult<i64> {
    lock_customers(conn, &[customer_id])?;
    let version = program(conn)?.map(|p| p.version);
    expire_customer(conn, customer_id, version, now)
}

/// Customers with a lot due by `now` that still has points, in id order after `after`.
fn due_customers(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    after: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<Uuid>> {
    let mut q = lots::table
        .filter(lots::remaining.gt(0))
        .filter(lots::expires_at.le(DbTime(now)))
        .select(lots::customer_id)
        .distinct()
        .order(lots::customer_id)
        .limit(limit)
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(lots::customer_id.gt(DbUuid(a)));
    }
    Ok(q.load::<DbUuid>(conn)?.into_iter().map(|c| c.0).collect())
}

/// What [`expire_all`] would expire as of `now`, writing nothing: how many customers and
/// points (what is left of every lot due by then).
pub fn expire_preview(conn: &mut DbConn, now: DateTime<Utc>) -> StoreResult<(u64, i64)> {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Nullable};
    let (customers, points): (i64, Option<i64>) = lots::table
        .filter(lots::remaining.gt(0))
        .filter(lots::expires_at.le(DbTime(now)))
        .select((
            sql::<BigInt>("COUNT(DISTINCT customer_id)"),
            sql::<Nullable<BigInt>>("CAST(SUM(remaining) AS BIGINT)"),
        ))
        .first(conn)?;
    Ok((customers as u64, points.unwrap_or(0)))
}

/// The expiry run: every customer with points due by `now`, each in a write of its own (so a
/// run never holds many customers locked); how many customers and points. Running it again
/// expires nothing twice.
pub fn expire_all(db: &crate::Db, now: DateTime<Utc>) -> StoreResult<(u64, i64)> {
    let (mut customers_done, mut points) = (0, 0);
    let mut after = None;
    loop {
        let page = due_customers(&mut *db.conn()?, now, after, 500)?;
        let Some(last) = page.last().copied() else {
            return Ok((customers_done, points));
        };
        for customer in page {
            let expired = db.write(move |conn| expire(conn, customer, now))?;
            if expired > 0 {
                customers_done += 1;
                points += expired;
            }
        }
        after = Some(last);
    }
}

// ---------------------------------------------------------------- purchases

/// Points awarded to the customer that still count (not reversed): all of them, or those
/// awarded after `since`.
fn awarded_points(
    conn: &mut DbConn,
    customer_id: Uuid,
    since: Option<DateTime<Utc>>,
) -> StoreResult<i64> {
    let reversed = diesel::alias!(entries as reversal);
    let mut q = lots::table
        .filter(lots::customer_id.eq(DbUuid(customer_id)))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            reversed
                .filter(
                    reversed
                        .field(entries::reverses_id)
                        .eq(lots::entry_id.nullable()),
                )
                .select(reversed.field(entries::id)),
        )))
        .select(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
        >("CAST(SUM(loyalty_lots.points) AS BIGINT)"))
        .into_boxed();
    if let Some(since) = since {
        q = q.filter(lots::awarded_at.gt(DbTime(since)));
    }
    Ok(q.first::<Option<i64>>(conn)?.unwrap_or(0))
}

/// Lifetime and qualifying points (the tier's) of a customer under `program`.
fn lifetime_and_qualifying(
    conn: &mut DbConn,
    customer_id: Uuid,
    program: Option<&Program>,
    now: DateTime<Utc>,
) -> StoreResult<(i64, i64)> {
    let lifetime = awarded_points(conn, customer_id, None)?;
    let qualifying = match program.and_then(|p| p.definition.tier_window_days) {
        Some(days) => awarded_points(conn, customer_id, Some(now - Duration::days(days)))?,
        None => lifetime,
    };
    Ok((lifetime, qualifying))
}

/// A purchase interaction was recorded: it earns points under the program in force, at the
/// customer's tier multiplier. Nothing without a program or an earn rule for its currency.
/// The caller's transaction has locked the customer.
pub(crate) fn earn_for_purchase(
    conn: &mut DbConn,
    interaction_id: Uuid,
    customer_id: Uuid,
    amount_minor: i64,
    currency: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<Entry>> {
    let Some(program) = program(conn)? else {
        return Ok(None);
    };
    let (_, qualifying) = lifetime_and_qualifying(conn, customer_id, Some(&program), now)?;
    let multiplier = program.definition.multiplier_for(qualifying);
    let points = program
        .definition
        .points_for(amount_minor, currency, multiplier);
    if points <= 0 {
        return Ok(None);
    }
    let e = NewEntry {
        id: rapport_domain::new_id(),
        customer_id,
        kind: EntryKind::Earn,
        points,
        reason: Some("purchase"),
        source: EntrySource {
            kind: SourceType::Interaction,
            id: Some(interaction_id),
        },
        reverses_id: None,
        program_version: Some(program.version),
        at: now,
    };
    award(conn, &e, Some(&program)).map(Some)
}

/// A purchase interaction was deleted, or changed so that it earns differently: what it earned
/// is reversed. The reversal takes the award's own lot first, then the lots that expire first,
/// never more than the customer has (points already spent stay spent); the award stops counting
/// for lifetime points and tiers either way. Idempotent: a reversed award is not reversed again.
pub(crate) fn reverse_purchase(
    conn: &mut DbConn,
    interaction_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Entry>> {
    let reversal = diesel::alias!(entries as reversal);
    let awards: Vec<(DbUuid, DbUuid, i64)> = entries::table
        .filter(entries::source_type.eq(SourceType::Interaction.as_str()))
        .filter(entries::source_id.eq(DbUuid(interaction_id)))
        .filter(entries::kind.eq(EntryKind::Earn.as_str()))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            reversal
                .filter(
                    reversal
                        .field(entries::reverses_id)
                        .eq(entries::id.nullable()),
                )
                .select(reversal.field(entries::id)),
        )))
        .select((entries::id, entries::customer_id, entries::points))
        .load(conn)?;
    let mut out = Vec::new();
    for (award_id, customer, points) in awards {
        let customer = customer.0;
        let version = program(conn)?.map(|p| p.version);
        let mut open = spendable_lots(conn, customer, now)?;
        // The award's own lot goes first.
        let own: i64 = open
            .iter()
            .filter(|l| l.id == award_id.0)
            .map(|l| l.remaining)
            .sum();
        open.retain(|l| l.id != award_id.0);
        let mut taken = Vec::new();
        if own > 0 {
            taken.push(LotUse {
                lot_id: award_id.0,
                points: own.min(points),
            });
        }
        let rest = points - own.min(points);
        let available: i64 = open.iter().map(|l| l.remaining).sum();
        if rest > 0 && available > 0 {
            taken.extend(
                loyalty::consume(open, rest.min(available))
                    .map_err(|_| StoreError::Conflict(Conflict::InsufficientPoints))?,
            );
        }
        let total: i64 = taken.iter().map(|u| u.points).sum();
        let e = NewEntry {
            id: rapport_domain::new_id(),
            customer_id: customer,
            kind: EntryKind::Reverse,
            points: -total,
            reason: Some("purchase withdrawn"),
            source: EntrySource {
                kind: SourceType::Interaction,
                id: Some(interaction_id),
            },
            reverses_id: Some(award_id.0),
            program_version: version,
            at: now,
        };
        out.push(take(conn, &e, taken)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------- reading

/// The customer's account, derived from the ledger. Points past their expiry date are not in
/// the balance, even before the expiry run writes their `expire` entries.
pub fn account(conn: &mut DbConn, customer_id: Uuid, now: DateTime<Utc>) -> StoreResult<Account> {
    let customer_id = crate::customers::current(conn, customer_id)?;
    let program = program(conn)?;
    // SUM of a bigint is numeric on PostgreSQL: cast back.
    let ledger: Option<i64> = entries::table
        .filter(entries::customer_id.eq(DbUuid(customer_id)))
        .select(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
        >("CAST(SUM(points) AS BIGINT)"))
        .first(conn)?;
    let open = open_lots(conn, customer_id)?;
    let due: i64 = open
        .iter()
        .filter(|l| l.expires_at.is_some_and(|e| e <= now))
        .map(|l| l.remaining)
        .sum();
    let (lifetime, qualifying) = lifetime_and_qualifying(conn, customer_id, program.as_ref(), now)?;
    let spendable: Vec<OpenLot> = open
        .into_iter()
        .filter(|l| l.expires_at.is_none_or(|e| e > now))
        .collect();
    Ok(Account::new(
        customer_id,
        ledger.unwrap_or(0) - due,
        lifetime,
        qualifying,
        &spendable,
        program.as_ref(),
        now,
    ))
}

/// A page of the customer's ledger, newest first.
pub fn entries_page(
    conn: &mut DbConn,
    customer_id: Uuid,
    cursor: Option<&str>,
    limit: i64,
) -> StoreResult<Page<Entry>> {
    let customer_id = crate::customers::current(conn, customer_id)?;
    const SORT: &str = "-created_at";
    let after = crate::page::time_key(cursor, "loyalty_entries", SORT)?;
    let mut items = load_entries(conn, customer_id, after, limit + 1)?;
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = match items.last() {
        Some(last) if more => Some(crate::page::time_token(
            "loyalty_entries",
            SORT,
            last.created_at,
            last.id,
        )),
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

/// Up to `limit` of the customer's entries strictly before `before` in `(created_at, id)`,
/// newest first, with their lots.
pub(crate) fn load_entries(
    conn: &mut DbConn,
    customer_id: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> StoreResult<Vec<Entry>> {
    let after = before.map(|(k, id)| (DbTime(k), DbUuid(id)));
    let mut q = entries::table
        .filter(entries::customer_id.eq(DbUuid(customer_id)))
        .into_boxed();
    if let Some((k, id)) = after {
        q = q
            .filter(entries::created_at.le(k))
            .filter(entries::created_at.lt(k).or(entries::id.lt(id)));
    }
    type EntryRow = (
        DbUuid,
        DbUuid,
        String,
        i64,
        Option<String>,
        String,
        Option<DbUuid>,
        Option<DbUuid>,
        Option<i64>,
        DbTime,
    );
    let q = q
        .order((entries::created_at.desc(), entries::id.desc()))
        .select((
            entries::id,
            entries::customer_id,
            entries::kind,
            entries::points,
            entries::reason,
            entries::source_type,
            entries::source_id,
            entries::reverses_id,
            entries::program_version,
            entries::created_at,
        ));
    let rows: Vec<EntryRow> = crate::page::limited(q, limit).load(conn)?;
    let ids: Vec<DbUuid> = rows.iter().map(|r| r.0).collect();
    let expiries: HashMap<Uuid, Option<DbTime>> = lots::table
        .filter(lots::entry_id.eq_any(&ids))
        .select((lots::entry_id, lots::expires_at))
        .load::<(DbUuid, Option<DbTime>)>(conn)?
        .into_iter()
        .map(|(id, e)| (id.0, e))
        .collect();
    let mut used: HashMap<Uuid, Vec<LotUse>> = HashMap::new();
    for (entry, lot, points) in uses::table
        .filter(uses::entry_id.eq_any(&ids))
        .order((uses::entry_id, uses::lot_id))
        .select((uses::entry_id, uses::lot_id, uses::points))
        .load::<(DbUuid, DbUuid, i64)>(conn)?
    {
        used.entry(entry.0).or_default().push(LotUse {
            lot_id: lot.0,
            points,
        });
    }
    let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("loyalty entry {what}: {v}"));
    let mut items = Vec::with_capacity(rows.len());
    for (id, customer, kind, points, reason, source_type, source_id, reverses, version, at) in rows
    {
        items.push(Entry {
            id: id.0,
            customer_id: customer.0,
            kind: EntryKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
            points,
            reason,
            source: EntrySource {
                kind: SourceType::parse(&source_type)
                    .ok_or_else(|| corrupt("source_type", &source_type))?,
                id: source_id.map(|s| s.0),
            },
            reverses_id: reverses.map(|r| r.0),
            program_version: version,
            expires_at: expiries.get(&id.0).copied().flatten().map(|e| e.0),
            lots: used.remove(&id.0).unwrap_or_default(),
            created_at: at.0,
        });
    }
    Ok(items)
}

// ---------------------------------------------------------------- rewards and redemptions

type RewardRow = (
    DbUuid,
    String,
    Option<String>,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    bool,
    DbTime,
    i64,
    Option<DbTime>,
);

fn reward_of(r: RewardRow) -> StoreResult<Reward> {
    let (
        id,
        name,
        description,
        kind,
        cost,
        percent,
        amount,
        currency,
        partner,
        qty,
        stock,
        active,
        at,
        version,
        updated,
    ) = r;
    Ok(Reward {
        id: id.0,
        terms: RewardDraft {
            name,
            description,
            kind: RewardKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("reward kind {kind}")))?,
            cost_points: cost,
            percent_off: percent,
            amount_minor: amount,
            currency,
            partner,
            quantity: qty,
            stock,
        },
        active,
        version,
        created_at: at.0,
        updated_at: updated.unwrap_or(at).0,
    })
}

macro_rules! reward_columns {
    () => {
        (
            rewards::id,
            rewards::name,
            rewards::description,
            rewards::kind,
            rewards::cost_points,
            rewards::percent_off,
            rewards::amount_minor,
            rewards::currency,
            rewards::partner,
            rewards::quantity,
            rewards::stock,
            rewards::active,
            rewards::created_at,
            rewards::version,
            rewards::updated_at,
        )
    };
}

pub fn create_reward(
    conn: &mut DbConn,
    draft: &RewardDraft,
    now: DateTime<Utc>,
) -> StoreResult<Reward> {
    let id = rapport_domain::new_id();
    diesel::insert_into(rewards::table)
        .values((
            rewards::id.eq(DbUuid(id)),
            rewards::name.eq(&draft.name),
            rewards::description.eq(&draft.description),
            rewards::kind.eq(draft.kind.as_str()),
            rewards::cost_points.eq(draft.cost_points),
            rewards::percent_off.eq(draft.percent_off),
            rewards::amount_minor.eq(draft.amount_minor),
            rewards::currency.eq(&draft.currency),
            rewards::partner.eq(&draft.partner),
            rewards::quantity.eq(draft.quantity),
            rewards::stock.eq(draft.stock),
            rewards::active.eq(true),
            rewards::created_at.eq(DbTime(now)),
            rewards::version.eq(1),
            rewards::updated_at.eq(Some(DbTime(now))),
        ))
        .execute(conn)?;
    Ok(Reward {
        id,
        terms: draft.clone(),
        active: true,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

pub fn reward(conn: &mut DbConn, id: Uuid) -> StoreResult<Reward> {
    let row: RewardRow = rewards::table
        .find(DbUuid(id))
        .select(reward_columns!())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    reward_of(row)
}

/// The catalog in creation order, a page at a time (the cursor is the last id).
pub fn rewards_page(
    conn: &mut DbConn,
    include_inactive: bool,
    cursor: Option<&str>,
    limit: i64,
) -> StoreResult<Page<Reward>> {
    let after: Option<Uuid> = crate::page::list_key(cursor, "rewards")?;
    let mut q = rewards::table.select(reward_columns!()).into_boxed();
    if !include_inactive {
        q = q.filter(rewards::active.eq(true));
    }
    if let Some(a) = after {
        q = q.filter(rewards::id.gt(DbUuid(a)));
    }
    let rows: Vec<RewardRow> = crate::page::limited(q.order(rewards::id), limit + 1).load(conn)?;
    Page::from_rows(rows, limit, reward_of, |t| {
        crate::page::list_token("rewards", t.id)
    })
}

/// Replaces a reward's terms and whether it can be redeemed, if it is still at `version`
/// (`VersionMismatch` otherwise). Redemptions already made keep the terms they were made under.
pub fn update_reward(
    conn: &mut DbConn,
    id: Uuid,
    version: i64,
    terms: &RewardDraft,
    active: bool,
    now: DateTime<Utc>,
) -> StoreResult<Reward> {
    let n = diesel::update(
        rewards::table
            .find(DbUuid(id))
            .filter(rewards::version.eq(version)),
    )
    .set((
        rewards::name.eq(&terms.name),
        rewards::description.eq(&terms.description),
        rewards::kind.eq(terms.kind.as_str()),
        rewards::cost_points.eq(terms.cost_points),
        rewards::percent_off.eq(terms.percent_off),
        rewards::amount_minor.eq(terms.amount_minor),
        rewards::currency.eq(&terms.currency),
        rewards::partner.eq(&terms.partner),
        rewards::quantity.eq(terms.quantity),
        rewards::stock.eq(terms.stock),
        rewards::active.eq(active),
        rewards::version.eq(version + 1),
        rewards::updated_at.eq(Some(DbTime(now))),
    ))
    .execute(conn)?;
    if n == 0 {
        reward(conn, id)?;
        return Err(StoreError::VersionMismatch);
    }
    reward(conn, id)
}

/// Takes a reward off the catalog (or puts it back): redemptions made stay valid.
pub fn set_reward_active(
    conn: &mut DbConn,
    id: Uuid,
    active: bool,
    now: DateTime<Utc>,
) -> StoreResult<Reward> {
    let n = diesel::update(rewards::table.find(DbUuid(id)))
        .set((
            rewards::active.eq(active),
            rewards::version.eq(rewards::version + 1),
            rewards::updated_at.eq(Some(DbTime(now))),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    reward(conn, id)
}

/// Buys a reward with points: one `redeem` entry taking its cost from the lots that expire
/// first, one unit of stock, and one code from `new_code` per unit of the reward. Not enough points is
/// `Conflict::InsufficientPoints`, no stock `Conflict::RewardOutOfStock`; either writes nothing.
pub fn redeem(
    conn: &mut DbConn,
    customer_id: Uuid,
    reward_id: Uuid,
    new_code: impl Fn() -> String,
    now: DateTime<Utc>,
) -> StoreResult<Redemption> {
    let customer_id = crate::customers::current(conn, customer_id)?;
    lock_live_customer(conn, customer_id)?;
    let reward = match reward(conn, reward_id) {
        Err(StoreError::NotFound) => return Err(StoreError::MissingReference("reward_id")),
        other => other?,
    };
    if !reward.active {
        return Err(StoreError::Conflict(Conflict::RewardInactive));
    }
    if reward.terms.stock.is_some() {
        // Atomic on both backends: only a row with stock left is decremented.
        let n = diesel::update(
            rewards::table
                .find(DbUuid(reward_id))
                .filter(rewards::stock.gt(0)),
        )
        .set((
            rewards::stock.eq(rewards::stock - 1),
            rewards::version.eq(rewards::version + 1),
        ))
        .execute(conn)?;
        if n == 0 {
            return Err(StoreError::Conflict(Conflict::RewardOutOfStock));
        }
    }
    let cost = reward.terms.cost_points;
    let lots = spendable_lots(conn, customer_id, now)?;
    let taken = loyalty::consume(lots, cost)
        .map_err(|_| StoreError::Conflict(Conflict::InsufficientPoints))?;
    let id = rapport_domain::new_id();
    let e = NewEntry {
        id: rapport_domain::new_id(),
        customer_id,
        kind: EntryKind::Redeem,
        points: -cost,
        reason: Some(&reward.terms.name),
        source: EntrySource {
            kind: SourceType::Redemption,
            id: Some(id),
        },
        reverses_id: None,
        program_version: program(conn)?.map(|p| p.version),
        at: now,
    };
    take(conn, &e, taken)?;
    let codes: Vec<String> = (0..reward.terms.quantity).map(|_| new_code()).collect();
    diesel::insert_into(redemptions::table)
        .values((
            redemptions::id.eq(DbUuid(id)),
            redemptions::customer_id.eq(DbUuid(customer_id)),
            redemptions::reward_id.eq(DbUuid(reward_id)),
            redemptions::points.eq(cost),
            redemptions::codes.eq(DbJson::of(&codes)),
            redemptions::terms.eq(DbJson::of(&reward.terms)),
            redemptions::entry_id.eq(DbUuid(e.id)),
            redemptions::created_at.eq(DbTime(now)),
        ))
        .execute(conn)?;
    for code in &codes {
        diesel::insert_into(codes_table::table)
            .values((
                codes_table::code.eq(code),
                codes_table::redemption_id.eq(DbUuid(id)),
            ))
            .execute(conn)?;
    }
    let entry_id = e.id;
    Ok(Redemption {
        id,
        customer_id,
        reward_id,
        terms: reward.terms,
        points: cost,
        codes,
        status: RedemptionStatus::Issued,
        entry_id,
        cancel_entry_id: None,
        created_at: now,
        cancelled_at: None,
    })
}

type RedemptionRow = (
    DbUuid,
    DbUuid,
    DbUuid,
    i64,
    DbJson,
    DbJson,
    DbUuid,
    Option<DbUuid>,
    DbTime,
    Option<DbTime>,
);

macro_rules! redemption_columns {
    () => {
        (
            redemptions::id,
            redemptions::customer_id,
            redemptions::reward_id,
            redemptions::points,
            redemptions::codes,
            redemptions::terms,
            redemptions::entry_id,
            redemptions::cancel_entry_id,
            redemptions::created_at,
            redemptions::cancelled_at,
        )
    };
}

fn redemption_of(row: RedemptionRow) -> StoreResult<Redemption> {
    let (id, customer, reward, points, codes, terms, entry, cancel, at, cancelled_at) = row;
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("redemption {}: {e}", id.0));
    Ok(Redemption {
        id: id.0,
        customer_id: customer.0,
        reward_id: reward.0,
        terms: terms.parse().map_err(corrupt)?,
        points,
        codes: codes.parse().map_err(corrupt)?,
        status: if cancel.is_some() {
            RedemptionStatus::Cancelled
        } else {
            RedemptionStatus::Issued
        },
        entry_id: entry.0,
        cancel_entry_id: cancel.map(|c| c.0),
        created_at: at.0,
        cancelled_at: cancelled_at.map(|c| c.0),
    })
}

/// One of the customer's redemptions.
pub fn redemption(conn: &mut DbConn, customer_id: Uuid, id: Uuid) -> StoreResult<Redemption> {
    let customer_id = crate::customers::current(conn, customer_id)?;
    let row: RedemptionRow = redemptions::table
        .find(DbUuid(id))
        .filter(redemptions::customer_id.eq(DbUuid(customer_id)))
        .select(redemption_columns!())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    redemption_of(row)
}

/// The customer's redemptions, newest first (ids are time-ordered; the cursor is the last id).
pub fn redemptions_page(
    conn: &mut DbConn,
    customer_id: Uuid,
    status: Option<RedemptionStatus>,
    cursor: Option<&str>,
    limit: i64,
) -> StoreResult<Page<Redemption>> {
    let customer_id = crate::customers::current(conn, customer_id)?;
    let before: Option<Uuid> = crate::page::list_key(cursor, "redemptions")?;
    let mut q = redemptions::table
        .filter(redemptions::customer_id.eq(DbUuid(customer_id)))
        .select(redemption_columns!())
        .into_boxed();
    match status {
        Some(RedemptionStatus::Issued) => q = q.filter(redemptions::cancel_entry_id.is_null()),
        Some(RedemptionStatus::Cancelled) => {
            q = q.filter(redemptions::cancel_entry_id.is_not_null())
        }
        None => {}
    }
    if let Some(b) = before {
        q = q.filter(redemptions::id.lt(DbUuid(b)));
    }
    let rows: Vec<RedemptionRow> =
        crate::page::limited(q.order(redemptions::id.desc()), limit + 1).load(conn)?;
    Page::from_rows(rows, limit, redemption_of, |t| {
        crate::page::list_token("redemptions", t.id)
    })
}

/// Cancels a redemption: a `reverse` entry gives its points back to the very lots it took them
/// from (an expired lot gets them back too, and the expiry run then expires them), and the
/// reward's stock is returned. A cancelled redemption cannot be cancelled again.
pub fn cancel_redemption(
    conn: &mut DbConn,
    customer_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Redemption> {
    let customer_id = crate::customers::current(conn, customer_id)?;
    lock_customers(conn, &[customer_id])?;
    let r = redemption(conn, customer_id, id)?;
    if r.status == RedemptionStatus::Cancelled {
        return Err(StoreError::Conflict(Conflict::RedemptionCancelled));
    }
    let given_back: Vec<(DbUuid, i64)> = uses::table
        .filter(uses::entry_id.eq(DbUuid(r.entry_id)))
        .select((uses::lot_id, uses::points))
        .load(conn)?;
    let e = NewEntry {
        id: rapport_domain::new_id(),
        customer_id,
        kind: EntryKind::Reverse,
        points: r.points,
        reason: Some("redemption cancelled"),
        source: EntrySource {
            kind: SourceType::Redemption,
            id: Some(id),
        },
        reverses_id: Some(r.entry_id),
        program_version: program(conn)?.map(|p| p.version),
        at: now,
    };
    insert_entry(conn, &e)?;
    for (lot, points) in &given_back {
        diesel::insert_into(uses::table)
            .values((
                uses::entry_id.eq(DbUuid(e.id)),
                uses::lot_id.eq(*lot),
                uses::points.eq(*points),
            ))
            .execute(conn)?;
        diesel::update(lots::table.filter(lots::entry_id.eq(*lot)))
            .set(lots::remaining.eq(lots::remaining + *points))
            .execute(conn)?;
    }
    diesel::update(
        rewards::table
            .find(DbUuid(r.reward_id))
            .filter(rewards::stock.is_not_null()),
    )
    .set((
        rewards::stock.eq(rewards::stock + 1),
        rewards::version.eq(rewards::version + 1),
    ))
    .execute(conn)?;
    diesel::update(redemptions::table.find(DbUuid(id)))
        .set((
            redemptions::cancel_entry_id.eq(Some(DbUuid(e.id))),
            redemptions::cancelled_at.eq(Some(DbTime(now))),
        ))
        .execute(conn)?;
    redemption(conn, customer_id, id)
}
