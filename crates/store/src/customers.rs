//! Customers: one row each, tags mirrored into `customer_tags` so a tag filter is an index seek.

use rapport_domain::conflict::Conflict;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::prelude::*;
use diesel::sql_types::{self, Nullable, Text};
use rapport_domain::customer::{
    AcquisitionChannel, Address, AddressView, Customer, CustomerDraft, CustomerView, Demographics,
    DemographicsView, Education, IncomeBand, LifecycleStage, Preferences,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::db::DbConn;
use crate::page::Page;
use crate::schema::sql_types::{JsonType, TimestampType, UuidType};
use crate::schema::{customer_aliases, customer_tags, customers};
use crate::types::{DbJson, DbTime, DbUuid, RawText};
use crate::{StoreError, StoreResult};

/// The columns a customer is read with, in the order [`CustomerRecord`] decodes them.
type Columns = (
    customers::id,
    customers::given_name,
    customers::family_name,
    customers::email,
    customers::phone,
    customers::other_emails,
    customers::other_phones,
    customers::address_line1,
    customers::address_line2,
    customers::city,
    customers::region,
    customers::postal_code,
    customers::country,
    customers::birth_date,
    customers::social_handles,
    customers::occupation,
    customers::income_band,
    customers::education,
    customers::household_size,
    customers::preferences,
    customers::tags,
    customers::custom_attributes,
    customers::acquisition_channel,
    customers::lifecycle_stage,
    customers::version,
    customers::created_at,
    customers::updated_at,
    customers::archived_at,
    customers::external_ref,
);
const COLUMNS: Columns = (
    customers::id,
    customers::given_name,
    customers::family_name,
    customers::email,
    customers::phone,
    customers::other_emails,
    customers::other_phones,
    customers::address_line1,
    customers::address_line2,
    customers::city,
    customers::region,
    customers::postal_code,
    customers::country,
    customers::birth_date,
    customers::social_handles,
    customers::occupation,
    customers::income_band,
    customers::education,
    customers::household_size,
    customers::preferences,
    customers::tags,
    customers::custom_attributes,
    customers::acquisition_channel,
    customers::lifecycle_stage,
    customers::version,
    customers::created_at,
    customers::updated_at,
    customers::archived_at,
    customers::external_ref,
);

/// The free-text columns a record keeps in its one buffer, in this order.
const GIVEN_NAME: usize = 0;
const FAMILY_NAME: usize = 1;
const EMAIL: usize = 2;
const PHONE: usize = 3;
const LINE1: usize = 4;
const LINE2: usize = 5;
const CITY: usize = 6;
const REGION: usize = 7;
const POSTAL_CODE: usize = 8;
const COUNTRY: usize = 9;
const OCCUPATION: usize = 10;
const EXTERNAL_REF: usize = 11;
const TEXTS: usize = 12;

/// A stored customer as read: its free-text columns in one buffer (one allocation per row rather
/// than one per column), everything else decoded. It serialises through the same
/// [`CustomerView`] as a [`Customer`], so lists and single reads write the same JSON, without
/// copying the text into owned strings first.
#[derive(Debug, Clone)]
pub struct CustomerRecord {
    text: String,
    spans: [Option<(u32, u32)>; TEXTS],
    id: Uuid,
    other_emails: Vec<String>,
    other_phones: Vec<String>,
    birth_date: Option<NaiveDate>,
    social_handles: BTreeMap<String, String>,
    income_band: Option<IncomeBand>,
    education: Option<Education>,
    household_size: Option<i32>,
    preferences: Preferences,
    tags: Vec<String>,
    custom_attributes: Map<String, Value>,
    acquisition_channel: Option<AcquisitionChannel>,
    lifecycle_stage: LifecycleStage,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    archived_at: Option<DateTime<Utc>>,
}

impl CustomerRecord {
    fn text(&self, column: usize) -> Option<&str> {
        self.spans[column].map(|(a, b)| &self.text[a as usize..b as usize])
    }

    fn owned(&self, column: usize) -> Option<String> {
        self.text(column).map(str::to_owned)
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    /// The customer as it goes on the wire.
    pub fn view(&self) -> CustomerView<'_> {
        CustomerView {
            id: self.id,
            external_ref: self.text(EXTERNAL_REF),
            given_name: self.text(GIVEN_NAME),
            family_name: self.text(FAMILY_NAME),
            email: self.text(EMAIL),
            phone: self.text(PHONE),
            other_emails: &self.other_emails,
            other_phones: &self.other_phones,
            address: AddressView {
                line1: self.text(LINE1),
                line2: self.text(LINE2),
                city: self.text(CITY),
                region: self.text(REGION),
                postal_code: self.text(POSTAL_CODE),
                country: self.text(COUNTRY),
            },
            birth_date: self.birth_date,
            social_handles: &self.social_handles,
            demographics: DemographicsView {
                occupation: self.text(OCCUPATION),
                income_band: self.income_band,
                education: self.education,
                household_size: self.household_size,
            },
            preferences: &self.preferences,
            tags: &self.tags,
            custom_attributes: &self.custom_attributes,
            acquisition_channel: self.acquisition_channel,
            lifecycle_stage: self.lifecycle_stage,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
            version: self.version,
        }
    }

    /// The customer as an owned domain value.
    pub fn into_domain(self) -> Customer {
        let draft = CustomerDraft {
            external_ref: self.owned(EXTERNAL_REF),
            given_name: self.owned(GIVEN_NAME),
            family_name: self.owned(FAMILY_NAME),
            email: self.owned(EMAIL),
            phone: self.owned(PHONE),
            address: Address {
                line1: self.owned(LINE1),
                line2: self.owned(LINE2),
                city: self.owned(CITY),
                region: self.owned(REGION),
                postal_code: self.owned(POSTAL_CODE),
                country: self.owned(COUNTRY),
            },
            birth_date: self.birth_date,
            demographics: Demographics {
                occupation: self.owned(OCCUPATION),
                income_band: self.income_band,
                education: self.education,
                household_size: self.household_size,
            },
            other_emails: self.other_emails,
            other_phones: self.other_phones,
            social_handles: self.social_handles,
            preferences: self.preferences,
            tags: self.tags,
            custom_attributes: self.custom_attributes,
            acquisition_channel: self.acquisition_channel,
            lifecycle_stage: self.lifecycle_stage,
        };
        Customer {
            id: self.id,
            draft,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
            version: self.version,
        }
    }
}

impl serde::Serialize for CustomerRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(s)
    }
}

/// The SQL types of [`Columns`], spelled out (a projection would not be seen as distinct from
/// `Untyped` by coherence).
type RowSql = (
    UuidType,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    JsonType,
    JsonType,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<sql_types::Date>,
    JsonType,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<sql_types::Integer>,
    JsonType,
    JsonType,
    JsonType,
    Nullable<Text>,
    Text,
    sql_types::BigInt,
    TimestampType,
    TimestampType,
    Nullable<TimestampType>,
    Nullable<Text>,
);

// One impl per concrete backend: a generic one would overlap diesel's blanket impl for
// `Queryable` types (another crate could implement that for its own backend).
macro_rules! from_row {
    ($($db:ty),*) => {$(
        impl FromSqlRow<RowSql, $db> for CustomerRecord {
            fn build_from_row<'a>(row: &impl diesel::row::Row<'a, $db>) -> deserialize::Result<Self> {
                CustomerRecord::build(row)
            }
        }
    )*};
}
from_row!(
    crate::db::MultiBackend,
    diesel::pg::Pg,
    diesel::sqlite::Sqlite
);

impl CustomerRecord {
    fn build<'a, DB>(row: &impl diesel::row::Row<'a, DB>) -> deserialize::Result<Self>
    where
        DB: RawText,
        DbUuid: FromSql<UuidType, DB>,
        DbTime: FromSql<TimestampType, DB>,
        NaiveDate: FromSql<sql_types::Date, DB>,
        i32: FromSql<sql_types::Integer, DB>,
        i64: FromSql<sql_types::BigInt, DB>,
    {
        use diesel::row::Field;
        fn value<'r, 'a: 'r, DB: Backend, R: diesel::row::Row<'a, DB>>(
            row: &'r R,
            i: usize,
        ) -> deserialize::Result<R::Field<'r>> {
            row.get(i)
                .ok_or_else(|| format!("customers: no column {i}").into())
        }
        fn json<T: serde::de::DeserializeOwned, DB: RawText>(
            column: &str,
            v: Option<DB::RawValue<'_>>,
        ) -> deserialize::Result<T> {
            let v = v.ok_or_else(|| format!("customers.{column}: null"))?;
            use serde::de::value::{MapDeserializer, SeqDeserializer};
            DB::with_json(v, |text| match text {
                // Most of these columns are empty: skip the parser for them.
                "[]" => T::deserialize(SeqDeserializer::<_, serde_json::Error>::new(
                    std::iter::empty::<()>(),
                )),
                "{}" => T::deserialize(MapDeserializer::<_, serde_json::Error>::new(
                    std::iter::empty::<((), ())>(),
                )),
                _ => serde_json::from_str(text),
            })?
            .map_err(|e| format!("customers.{column}: {e}").into())
        }
        fn label<T, DB: RawText>(
            column: &str,
            v: Option<DB::RawValue<'_>>,
            parse: fn(&str) -> Option<T>,
        ) -> deserialize::Result<Option<T>> {
            v.map(|v| {
                DB::with_text(v, |s| {
                    parse(s).ok_or_else(|| format!("customers.{column}: {s}").into())
                })?
            })
            .transpose()
        }

        let mut text = String::with_capacity(192);
        let mut spans = [None; TEXTS];
        // Columns 1-4, 7-12, 15 and 28 are the free text, in `spans` order.
        for (span, i) in spans
            .iter_mut()
            .zip([1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 15, 28])
        {
            if let Some(v) = value(row, i)?.value() {
                let start = text.len() as u32;
                DB::with_text(v, |s| text.push_str(s))?;
                *span = Some((start, text.len() as u32));
            }
        }
        let id = DbUuid::from_nullable_sql(value(row, 0)?.value())?.0;
        let version = i64::from_nullable_sql(value(row, 24)?.value())?;
        let created_at = DbTime::from_nullable_sql(value(row, 25)?.value())?.0;
        let updated_at = DbTime::from_nullable_sql(value(row, 26)?.value())?.0;
        let archived_at = match value(row, 27)?.value() {
            Some(v) => Some(DbTime::from_sql(v)?.0),
            None => None,
        };
        let birth_date = match value(row, 13)?.value() {
            Some(v) => Some(NaiveDate::from_sql(v)?),
            None => None,
        };
        let household_size = match value(row, 18)?.value() {
            Some(v) => Some(i32::from_sql(v)?),
            None => None,
        };
        Ok(CustomerRecord {
            text,
            spans,
            id,
            other_emails: json::<_, DB>("other_emails", value(row, 5)?.value())?,
            other_phones: json::<_, DB>("other_phones", value(row, 6)?.value())?,
            birth_date,
            social_handles: json::<_, DB>("social_handles", value(row, 14)?.value())?,
            income_band: label::<_, DB>("income_band", value(row, 16)?.value(), IncomeBand::parse)?,
            education: label::<_, DB>("education", value(row, 17)?.value(), Education::parse)?,
            household_size,
            preferences: json::<_, DB>("preferences", value(row, 19)?.value())?,
            tags: json::<_, DB>("tags", value(row, 20)?.value())?,
            custom_attributes: json::<_, DB>("custom_attributes", value(row, 21)?.value())?,
            acquisition_channel: label::<_, DB>(
                "acquisition_channel",
                value(row, 22)?.value(),
                AcquisitionChannel::parse,
            )?,
            lifecycle_stage: label::<_, DB>(
                "lifecycle_stage",
                value(row, 23)?.value(),
                LifecycleStage::parse,
            )?
            .ok_or("customers.lifecycle_stage: null")?,
            version,
            created_at,
            updated_at,
            archived_at,
        })
    }
}

/// The columns a draft sets, shared by insert and update.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = customers, treat_none_as_null = true, treat_none_as_default_value = false)]
pub(crate) struct Fields<'a> {
    external_ref: Option<&'a str>,
    given_name: Option<&'a str>,
    family_name: Option<&'a str>,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    other_emails: DbJson,
    other_phones: DbJson,
    address_line1: Option<&'a str>,
    address_line2: Option<&'a str>,
    city: Option<&'a str>,
    region: Option<&'a str>,
    postal_code: Option<&'a str>,
    country: Option<&'a str>,
    birth_date: Option<NaiveDate>,
    social_handles: DbJson,
    occupation: Option<&'a str>,
    income_band: Option<&'a str>,
    education: Option<&'a str>,
    household_size: Option<i32>,
    preferences: DbJson,
    tags: DbJson,
    custom_attributes: DbJson,
    acquisition_channel: Option<&'a str>,
    lifecycle_stage: &'a str,
    search_text: String,
    updated_at: DbTime,
}

fn json<T: serde::Serialize>(v: &T) -> DbJson {
    DbJson::of(v)
}

impl<'a> Fields<'a> {
    pub(crate) fn new(d: &'a CustomerDraft, now: DateTime<Utc>) -> Self {
        Self {
            external_ref: d.external_ref.as_deref(),
            given_name: d.given_name.as_deref(),
            family_name: d.family_name.as_deref(),
            email: d.email.as_deref(),
            phone: d.phone.as_deref(),
            other_emails: json(&d.other_emails),
            other_phones: json(&d.other_phones),
            address_line1: d.address.line1.as_deref(),
            address_line2: d.address.line2.as_deref(),
            city: d.address.city.as_deref(),
            region: d.address.region.as_deref(),
            postal_code: d.address.postal_code.as_deref(),
            country: d.address.country.as_deref(),
            birth_date: d.birth_date,
            social_handles: json(&d.social_handles),
            occupation: d.demographics.occupation.as_deref(),
            income_band: d.demographics.income_band.map(|v| v.as_str()),
            education: d.demographics.education.map(|v| v.as_str()),
            household_size: d.demographics.household_size,
            preferences: json(&d.preferences),
            tags: json(&d.tags),
            custom_attributes: json(&d.custom_attributes),
            acquisition_channel: d.acquisition_channel.map(|v| v.as_str()),
            lifecycle_stage: d.lifecycle_stage.as_str(),
            search_text: d.search_text(),
            updated_at: DbTime(now),
        }
    }
}

fn replace_tags(conn: &mut DbConn, id: Uuid, tags: &[String]) -> QueryResult<()> {
    diesel::delete(customer_tags::table.filter(customer_tags::customer_id.eq(DbUuid(id))))
        .execute(conn)?;
    insert_tags(conn, id, tags)
}

/// Runs a statement on the backend's own connection. Through the multi-backend connection diesel
/// writes a statement's SQL out again on every pass over it (cache lookup, binds), which showed up
/// in a `POST`'s profile (measured: see docs/benchmarks.md); the statements are the same on either
/// backend.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            DbConn::Sqlite($c) => $body,
            DbConn::Pg($c) => $body,
        }
    };
}

fn insert_tags(conn: &mut DbConn, id: Uuid, tags: &[String]) -> QueryResult<()> {
    for tag in tags {
        let q = diesel::insert_into(customer_tags::table).values((
            customer_tags::customer_id.eq(DbUuid(id)),
            customer_tags::tag.eq(tag),
        ));
        on_backend!(&mut *conn, |c| q.execute(c))?;
    }
    Ok(())
}

/// Runs `f` in the caller's transaction when there is one (every write through `Db::write` is
/// one), else in a new one. A nested `transaction` would add a savepoint and its release: two
/// more round trips per write on PostgreSQL.
fn atomically<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> QueryResult<T>,
) -> QueryResult<T> {
    use diesel::connection::TransactionManager;
    let depth = <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth();
    match depth {
        Ok(Some(_)) => f(conn),
        _ => conn.transaction(f),
    }
}

/// Stores a new customer (already parsed) and returns it as stored.
pub fn insert(
    conn: &mut DbConn,
    draft: &CustomerDraft,
    now: DateTime<Utc>,
) -> StoreResult<Customer> {
    let id = rapport_domain::new_id();
    atomically(conn, |conn| {
        let q = diesel::insert_into(customers::table).values((
            customers::id.eq(DbUuid(id)),
            Fields::new(draft, now),
            customers::version.eq(1_i64),
            customers::created_at.eq(DbTime(now)),
        ));
        on_backend!(&mut *conn, |c| q.execute(c))?;
        insert_tags(conn, id, &draft.tags)
    })
    // The id is new and tags are deduplicated: the one rule left is the external reference.
    .map_err(StoreError::unique(Conflict::DuplicateExternalRef {
        existing_id: None,
    }))?;
    Ok(Customer {
        id,
        draft: draft.clone(),
        created_at: now,
        updated_at: now,
        archived_at: None,
        version: 1,
    })
}

/// A customer by id, archived or not.
pub fn get(conn: &mut DbConn, id: Uuid) -> StoreResult<Customer> {
    get_record(conn, id).map(CustomerRecord::into_domain)
}

/// A customer by id (or a merged duplicate's id), archived or not, as read (to serialise without
/// copying).
pub fn get_record(conn: &mut DbConn, id: Uuid) -> StoreResult<CustomerRecord> {
    match record(conn, id) {
        Err(StoreError::NotFound) => {
            let survivor = current(conn, id)?;
            record(conn, survivor)
        }
        found => found,
    }
}

fn record(conn: &mut DbConn, id: Uuid) -> StoreResult<CustomerRecord> {
    let q = customers::table.find(DbUuid(id)).select(COLUMNS);
    // On the backend's own connection, like `list`.
    match conn {
        DbConn::Sqlite(c) => q.first::<CustomerRecord>(c),
        DbConn::Pg(c) => q.first::<CustomerRecord>(c),
    }
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// Why a guarded write matched no row.
fn explain_miss(conn: &mut DbConn, id: Uuid) -> StoreError {
    match get(conn, id) {
        Ok(c) if c.archived_at.is_some() => StoreError::Conflict(Conflict::CustomerArchived),
        Ok(_) => StoreError::VersionMismatch,
        Err(e) => e,
    }
}

/// Brings an archived customer back (if its version is still `expected_version`, when given);
/// returns it. `NotFound` when it is not archived: there is nothing to restore.
pub fn restore(
    conn: &mut DbConn,
    id: Uuid,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> StoreResult<Customer> {
    let id = set_archived(conn, id, expected_version, false, now)?;
    get(conn, id)
}

/// Archives (`archive`) or restores a customer, guarded by `expected_version` when given;
/// returns its current id. `NotFound` when it is already in that state.
fn set_archived(
    conn: &mut DbConn,
    id: Uuid,
    expected_version: Option<i64>,
    archive: bool,
    now: DateTime<Utc>,
) -> StoreResult<Uuid> {
    let id = current(conn, id)?;
    let mut q = diesel::update(customers::table)
        .filter(customers::id.eq(DbUuid(id)))
        .into_boxed();
    q = if archive {
        q.filter(customers::archived_at.is_null())
    } else {
        q.filter(customers::archived_at.is_not_null())
    };
    if let Some(v) = expected_version {
        q = q.filter(customers::version.eq(v));
    }
    let n = q
        .set((
            customers::archived_at.eq(archive.then_some(DbTime(now))),
            customers::updated_at.eq(DbTime(now)),
            customers::version.eq(customers::version + 1),
        ))
        .execute(conn)?;
    if n == 1 {
        return Ok(id);
    }
    match get(conn, id) {
        Ok(c) if c.archived_at.is_some() == archive => Err(StoreError::NotFound),
        Ok(_) => Err(StoreError::VersionMismatch),
        Err(e) => Err(e),
    }
}

/// Replaces the writable fields, if the stored version is still `expected_version`.
pub fn update(
    conn: &mut DbConn,
    id: Uuid,
    expected_version: i64,
    draft: &CustomerDraft,
    now: DateTime<Utc>,
) -> StoreResult<Customer> {
    let id = current(conn, id)?;
    let updated = atomically(conn, |conn| {
        let n = diesel::update(
            customers::table
                .find(DbUuid(id))
                .filter(customers::version.eq(expected_version))
                .filter(customers::archived_at.is_null()),
        )
        .set((
            Fields::new(draft, now),
            customers::version.eq(expected_version + 1),
        ))
        .execute(conn)?;
        if n == 1 {
            replace_tags(conn, id, &draft.tags)?;
        }
        Ok::<_, diesel::result::Error>(n == 1)
    })
    .map_err(StoreError::unique(Conflict::DuplicateExternalRef {
        existing_id: None,
    }))?;
    if updated {
        get(conn, id)
    } else {
        Err(explain_miss(conn, id))
    }
}

/// Archives (soft-deletes) a live customer, optionally guarded by version.
pub fn archive(
    conn: &mut DbConn,
    id: Uuid,
    expected_version: Option<i64>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    set_archived(conn, id, expected_version, true, now).map(|_| ())
}

pub use rapport_domain::customer::CustomerSort;

/// List filters; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Case-insensitive substring of name or e-mail.
    pub q: Option<String>,
    pub email: Option<String>,
    /// The customer with this reference in another system.
    pub external_ref: Option<String>,
    /// Any of these tags (none: no tag filter).
    pub tags: Vec<String>,
    pub city: Option<String>,
    /// Any of these countries (none: no country filter).
    pub countries: Vec<String>,
    pub lifecycle_stage: Option<LifecycleStage>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub include_archived: bool,
}

fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// One page of customers in `sort` order, after `cursor`.
pub fn list(
    conn: &mut DbConn,
    filter: &CustomerFilter,
    sort: CustomerSort,
    cursor: Option<&str>,
    limit: i64,
) -> StoreResult<Page<CustomerRecord>> {
    let after = crate::page::time_key(cursor, "customers", sort.as_str())?
        .map(|(k, id)| (DbTime(k), DbUuid(id)));

    // The query is built and run on the backend's own connection: through the multi-backend
    // connection diesel writes the SQL of a boxed query out again on every pass over it (cache
    // lookup, binds), which cost more than the statement itself on SQLite.
    macro_rules! load {
        ($conn:expr, $db:ty) => {{
            let mut q = customers::table.select(COLUMNS).into_boxed::<$db>();
            if !filter.include_archived {
                q = q.filter(customers::archived_at.is_null());
            }
            if let Some(text) = &filter.q {
                q = q.filter(customers::search_text.like(like_pattern(text)).escape('\\'));
            }
            if let Some(email) = &filter.email {
                // A merged duplicate's e-mail finds the survivor.
                let email = email.trim().to_lowercase();
                let aliased = customer_aliases::table
                    .filter(customer_aliases::kind.eq(ALIAS_EMAIL))
                    .filter(customer_aliases::value.eq(email.clone()))
                    .select(customer_aliases::customer_id);
                q = q.filter(customers::email.eq(email).or(customers::id.eq_any(aliased)));
            }
            if let Some(r) = &filter.external_ref {
                q = q.filter(customers::external_ref.eq(r.trim()));
            }
            if !filter.tags.is_empty() {
                let tags: Vec<String> = filter
                    .tags
                    .iter()
                    .map(|t| t.trim().to_lowercase())
                    .collect();
                let tagged = customer_tags::table
                    .filter(customer_tags::tag.eq_any(tags))
                    .select(customer_tags::customer_id);
                q = q.filter(customers::id.eq_any(tagged));
            }
            if let Some(city) = &filter.city {
                q = q.filter(customers::city.eq(city));
            }
            if !filter.countries.is_empty() {
                let countries: Vec<String> = filter
                    .countries
                    .iter()
                    .map(|c| c.trim().to_ascii_uppercase())
                    .collect();
                q = q.filter(customers::country.eq_any(countries));
            }
            if let Some(stage) = filter.lifecycle_stage {
                q = q.filter(customers::lifecycle_stage.eq(stage.as_str()));
            }
            if let Some(t) = filter.created_after {
                q = q.filter(customers::created_at.gt(DbTime(t)));
            }
            if let Some(t) = filter.created_before {
                q = q.filter(customers::created_at.lt(DbTime(t)));
            }

            macro_rules! keyset {
                ($col:expr, asc) => {{
                    if let Some((k, id)) = after {
                        // The leading `>=` is what lets the (col, id) index seek; the rest is
                        // exact. `opaque`: one plan for every cursor on PostgreSQL.
                        let k = || crate::page::opaque::<TimestampType, _>(k);
                        q = q
                            .filter($col.ge(k()))
                            .filter($col.gt(k()).or(customers::id.gt(id)));
                    }
                    q = q.order(($col.asc(), customers::id.asc()));
                }};
                ($col:expr, desc) => {{
                    if let Some((k, id)) = after {
                        let k = || crate::page::opaque::<TimestampType, _>(k);
                        q = q
                            .filter($col.le(k()))
                            .filter($col.lt(k()).or(customers::id.lt(id)));
                    }
                    q = q.order(($col.desc(), customers::id.desc()));
                }};
            }
            match sort {
                CustomerSort::CreatedAsc => keyset!(customers::created_at, asc),
                CustomerSort::CreatedDesc => keyset!(customers::created_at, desc),
                CustomerSort::UpdatedAsc => keyset!(customers::updated_at, asc),
                CustomerSort::UpdatedDesc => keyset!(customers::updated_at, desc),
            }

            // One extra row tells whether there is a next page without a count query.
            crate::page::limited(q, limit + 1).load::<CustomerRecord>($conn)?
        }};
    }
    let mut items = match conn {
        DbConn::Sqlite(c) => load!(c, diesel::sqlite::Sqlite),
        DbConn::Pg(c) => load!(c, diesel::pg::Pg),
    };
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = match items.last() {
        Some(last) if more => {
            let key = match sort {
                CustomerSort::CreatedAsc | CustomerSort::CreatedDesc => last.created_at,
                CustomerSort::UpdatedAsc | CustomerSort::UpdatedDesc => last.updated_at,
            };
            Some(crate::page::time_token(
                "customers",
                sort.as_str(),
                key,
                last.id,
            ))
        }
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

/// Kinds of `customer_aliases` rows: a merged duplicate's old id and e-mail.
pub(crate) const ALIAS_ID: &str = "id";
pub(crate) const ALIAS_EMAIL: &str = "email";

/// Locks these customers' rows until the end of the transaction (PostgreSQL; a no-op on SQLite,
/// whose writes are serialised), in id order so that two lockers cannot deadlock.
pub(crate) fn lock_customers(conn: &mut DbConn, ids: &[Uuid]) -> StoreResult<()> {
    if let DbConn::Pg(pg) = conn {
        let mut ids: Vec<DbUuid> = ids.iter().copied().map(DbUuid).collect();
        ids.sort_by_key(|i| i.0);
        ids.dedup();
        customers::table
            .filter(customers::id.eq_any(ids))
            .order(customers::id)
            .select(customers::id)
            .for_update()
            .load::<DbUuid>(pg)?;
    }
    Ok(())
}

/// Checks that the customer exists and may get new interactions (not archived).
pub(crate) fn live_customer(conn: &mut DbConn, id: Uuid) -> StoreResult<()> {
    let archived: Option<Option<DbTime>> = customers::table
        .find(DbUuid(id))
        .select(customers::archived_at)
        .first(conn)
        .optional()?;
    match archived {
        None => Err(StoreError::MissingReference("customer_id")),
        Some(Some(_)) => Err(StoreError::Conflict(Conflict::CustomerArchived)),
        Some(None) => Ok(()),
    }
}

/// The customer `id` stands for now (itself, or the survivor it was merged into), or
/// `NotFound`. Every store function that takes a customer id from outside (a path, a filter)
/// goes through this or [`referenced`], so callers never resolve merged ids themselves.
pub(crate) fn current(conn: &mut DbConn, id: Uuid) -> StoreResult<Uuid> {
    resolve_id(conn, id)?.ok_or(StoreError::NotFound)
}

/// Like [`current`], for a customer named by a field of a body: `MissingReference(field)`.
pub(crate) fn referenced(conn: &mut DbConn, id: Uuid, field: &'static str) -> StoreResult<Uuid> {
    resolve_id(conn, id)?.ok_or(StoreError::MissingReference(field))
}

/// `draft` with the customer it names (`customer_id`, read by `get`, written by `set`) as it
/// is now: a merged duplicate's id becomes its survivor's; `MissingReference("customer_id")` when
/// none. Borrowed when nothing changes.
pub(crate) fn with_current_customer<'a, D: Clone>(
    conn: &mut DbConn,
    draft: &'a D,
    get: impl Fn(&D) -> Uuid,
    set: impl FnOnce(&mut D, Uuid),
) -> StoreResult<std::borrow::Cow<'a, D>> {
    let named = get(draft);
    let id = referenced(conn, named, "customer_id")?;
    if id == named {
        return Ok(std::borrow::Cow::Borrowed(draft));
    }
    let mut owned = draft.clone();
    set(&mut owned, id);
    Ok(std::borrow::Cow::Owned(owned))
}

/// The id a customer is known by now: `id` itself if it exists, or the survivor it was merged
/// into. `None` if neither.
pub(crate) fn resolve_id(conn: &mut DbConn, id: Uuid) -> StoreResult<Option<Uuid>> {
    let exists = customers::table
        .find(DbUuid(id))
        .select(customers::id)
        .first::<DbUuid>(conn)
        .optional()?;
    if exists.is_some() {
        return Ok(Some(id));
    }
    Ok(customer_aliases::table
        .filter(customer_aliases::kind.eq(ALIAS_ID))
        .filter(customer_aliases::value.eq(id.hyphenated().to_string()))
        .select(customer_aliases::customer_id)
        .first::<DbUuid>(conn)
        .optional()?
        .map(|d| d.0))
}
