//! Customers: one row each, tags mirrored into `customer_tags` so a tag filter is an index seek.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use rapport_domain::customer::{
    AcquisitionChannel, Address, Customer, CustomerDraft, Demographics, Education, IncomeBand,
    LifecycleStage,
};
use uuid::Uuid;

use crate::db::DbConn;
use crate::page::{Cursor, Page};
use crate::schema::{customer_aliases, customer_tags, customers};
use crate::types::{DbJson, DbTime, DbUuid};
use crate::{StoreError, StoreResult};

#[derive(Queryable, Selectable)]
#[diesel(table_name = customers)]
struct Row {
    id: DbUuid,
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    other_emails: DbJson,
    other_phones: DbJson,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    birth_date: Option<NaiveDate>,
    social_handles: DbJson,
    occupation: Option<String>,
    income_band: Option<String>,
    education: Option<String>,
    household_size: Option<i32>,
    preferences: DbJson,
    tags: DbJson,
    custom_attributes: DbJson,
    acquisition_channel: Option<String>,
    lifecycle_stage: String,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
    archived_at: Option<DbTime>,
}

fn from_json<T: serde::de::DeserializeOwned>(column: &str, v: DbJson) -> StoreResult<T> {
    v.parse()
        .map_err(|e| StoreError::Corrupt(format!("customers.{column}: {e}")))
}

fn parse_enum<T>(
    column: &str,
    v: Option<String>,
    parse: fn(&str) -> Option<T>,
) -> StoreResult<Option<T>> {
    v.map(|s| parse(&s).ok_or_else(|| StoreError::Corrupt(format!("customers.{column}: {s}"))))
        .transpose()
}

impl Row {
    fn into_domain(self) -> StoreResult<Customer> {
        let draft = CustomerDraft {
            given_name: self.given_name,
            family_name: self.family_name,
            email: self.email,
            phone: self.phone,
            other_emails: from_json("other_emails", self.other_emails)?,
            other_phones: from_json("other_phones", self.other_phones)?,
            address: Address {
                line1: self.address_line1,
                line2: self.address_line2,
                city: self.city,
                region: self.region,
                postal_code: self.postal_code,
                country: self.country,
            },
            birth_date: self.birth_date,
            social_handles: from_json("social_handles", self.social_handles)?,
            demographics: Demographics {
                occupation: self.occupation,
                income_band: parse_enum("income_band", self.income_band, IncomeBand::parse)?,
                education: parse_enum("education", self.education, Education::parse)?,
                household_size: self.household_size,
            },
            preferences: from_json("preferences", self.preferences)?,
            tags: from_json("tags", self.tags)?,
            custom_attributes: from_json("custom_attributes", self.custom_attributes)?,
            acquisition_channel: parse_enum(
                "acquisition_channel",
                self.acquisition_channel,
                AcquisitionChannel::parse,
            )?,
            lifecycle_stage: parse_enum(
                "lifecycle_stage",
                Some(self.lifecycle_stage),
                LifecycleStage::parse,
            )?
            .unwrap_or_default(),
        };
        Ok(Customer {
            id: self.id.0,
            draft,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            archived_at: self.archived_at.map(|t| t.0),
            version: self.version,
        })
    }
}

/// The columns a draft sets, shared by insert and update.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = customers, treat_none_as_null = true, treat_none_as_default_value = false)]
pub(crate) struct Fields<'a> {
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

fn insert_tags(conn: &mut DbConn, id: Uuid, tags: &[String]) -> QueryResult<()> {
    for tag in tags {
        diesel::insert_into(customer_tags::table)
            .values((
                customer_tags::customer_id.eq(DbUuid(id)),
                customer_tags::tag.eq(tag),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Stores a new customer (already parsed) and returns it as stored.
pub fn insert(
    conn: &mut DbConn,
    draft: &CustomerDraft,
    now: DateTime<Utc>,
) -> StoreResult<Customer> {
    let id = rapport_domain::new_id();
    conn.transaction(|conn| {
        diesel::insert_into(customers::table)
            .values((
                customers::id.eq(DbUuid(id)),
                Fields::new(draft, now),
                customers::version.eq(1_i64),
                customers::created_at.eq(DbTime(now)),
            ))
            .execute(conn)?;
        insert_tags(conn, id, &draft.tags)
    })?;
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
    customers::table
        .find(DbUuid(id))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?
        .into_domain()
}

/// Why a guarded write matched no row.
fn explain_miss(conn: &mut DbConn, id: Uuid) -> StoreError {
    match get(conn, id) {
        Ok(c) if c.archived_at.is_some() => StoreError::Conflict("customer_archived"),
        Ok(_) => StoreError::VersionMismatch,
        Err(e) => e,
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
    let updated = conn.transaction(|conn| {
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
    })?;
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
    let mut q = diesel::update(customers::table)
        .filter(customers::id.eq(DbUuid(id)))
        .filter(customers::archived_at.is_null())
        .into_boxed();
    if let Some(v) = expected_version {
        q = q.filter(customers::version.eq(v));
    }
    let n = q
        .set((
            customers::archived_at.eq(Some(DbTime(now))),
            customers::updated_at.eq(DbTime(now)),
            customers::version.eq(customers::version + 1),
        ))
        .execute(conn)?;
    if n == 1 {
        return Ok(());
    }
    match get(conn, id) {
        Ok(c) if c.archived_at.is_some() => Err(StoreError::NotFound),
        Ok(_) => Err(StoreError::VersionMismatch),
        Err(e) => Err(e),
    }
}

pub use rapport_domain::customer::CustomerSort;

/// List filters; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Case-insensitive substring of name or e-mail.
    pub q: Option<String>,
    pub email: Option<String>,
    pub tag: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
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
) -> StoreResult<Page<Customer>> {
    let mut q = customers::table.select(Row::as_select()).into_boxed();
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
            .filter(customer_aliases::kind.eq(crate::merge::ALIAS_EMAIL))
            .filter(customer_aliases::value.eq(email.clone()))
            .select(customer_aliases::customer_id);
        q = q.filter(customers::email.eq(email).or(customers::id.eq_any(aliased)));
    }
    if let Some(tag) = &filter.tag {
        let tagged = customer_tags::table
            .filter(customer_tags::tag.eq(tag.trim().to_lowercase()))
            .select(customer_tags::customer_id);
        q = q.filter(customers::id.eq_any(tagged));
    }
    if let Some(city) = &filter.city {
        q = q.filter(customers::city.eq(city));
    }
    if let Some(country) = &filter.country {
        q = q.filter(customers::country.eq(country.to_ascii_uppercase()));
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

    let after = cursor
        .map(|c| Cursor::decode(c, sort.as_str()))
        .transpose()?;
    let after = after
        .map(|c| {
            DateTime::parse_from_rfc3339(&c.k)
                .map(|k| (DbTime(k.with_timezone(&Utc)), DbUuid(c.id)))
                .map_err(|_| StoreError::InvalidCursor)
        })
        .transpose()?;

    macro_rules! keyset {
        ($col:expr, asc) => {{
            if let Some((k, id)) = after {
                // The leading `>=` is what lets the (col, id) index seek; the rest is exact.
                q = q
                    .filter($col.ge(k))
                    .filter($col.gt(k).or(customers::id.gt(id)));
            }
            q = q.order(($col.asc(), customers::id.asc()));
        }};
        ($col:expr, desc) => {{
            if let Some((k, id)) = after {
                q = q
                    .filter($col.le(k))
                    .filter($col.lt(k).or(customers::id.lt(id)));
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
    let mut rows = q.limit(limit + 1).load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let items = rows
        .into_iter()
        .map(Row::into_domain)
        .collect::<StoreResult<Vec<_>>>()?;
    let next_cursor = match items.last() {
        Some(last) if more => {
            let key = match sort {
                CustomerSort::CreatedAsc | CustomerSort::CreatedDesc => last.created_at,
                CustomerSort::UpdatedAsc | CustomerSort::UpdatedDesc => last.updated_at,
            };
            Some(
                Cursor {
                    s: sort.as_str().to_owned(),
                    k: key.to_rfc3339(),
                    id: last.id,
                }
                .encode(),
            )
        }
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

/// The id a customer is known by now: `id` itself if it exists, or the survivor it was merged
/// into. `None` if neither.
pub fn resolve_id(conn: &mut DbConn, id: Uuid) -> StoreResult<Option<Uuid>> {
    let exists = customers::table
        .find(DbUuid(id))
        .select(customers::id)
        .first::<DbUuid>(conn)
        .optional()?;
    if exists.is_some() {
        return Ok(Some(id));
    }
    Ok(customer_aliases::table
        .filter(customer_aliases::kind.eq(crate::merge::ALIAS_ID))
        .filter(customer_aliases::value.eq(id.hyphenated().to_string()))
        .select(customer_aliases::customer_id)
        .first::<DbUuid>(conn)
        .optional()?
        .map(|d| d.0))
}
