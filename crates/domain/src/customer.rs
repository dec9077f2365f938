//! Customers: identity and contact, demographics, preferences, tags, custom attributes, how they
//! came to us and where they are in the lifecycle.
//!
//! [`CustomerDraft`] is everything a client may write. It is what `POST` takes, and what a
//! `PATCH` (JSON merge patch, RFC 7396) is applied to before being checked again as a whole, so a
//! patch can never produce a customer that a create would have refused.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::validation::{self, error, ValidationFailure};

crate::string_enum! {
    /// Where the customer stands with us.
    LifecycleStage { Lead => "lead", Prospect => "prospect", Customer => "customer", Churned => "churned" }
}

impl LifecycleStage {
    /// The more telling of two stages, when two records of one person are merged: a current
    /// customer beats a churned one, which beats a prospect, which beats a lead.
    pub fn max_by_progress(self, other: Self) -> Self {
        let rank = |s: Self| match s {
            LifecycleStage::Lead => 0,
            LifecycleStage::Prospect => 1,
            LifecycleStage::Churned => 2,
            LifecycleStage::Customer => 3,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

#[allow(clippy::derivable_impls)] // the enum comes from a macro that does not take #[default]
impl Default for LifecycleStage {
    fn default() -> Self {
        LifecycleStage::Lead
    }
}

crate::string_enum! {
    /// How the customer first heard of us.
    AcquisitionChannel {
        OrganicSearch => "organic_search", PaidSearch => "paid_search", Social => "social",
        Referral => "referral", Email => "email", Event => "event", InStore => "in_store",
        Partner => "partner", Advertising => "advertising", WordOfMouth => "word_of_mouth", Other => "other",
    }
}

crate::string_enum! {
    /// A contact channel.
    Channel {
        Email => "email", Phone => "phone", Chat => "chat", Sms => "sms", Social => "social",
        InPerson => "in_person", Web => "web", Other => "other",
    }
}

crate::string_enum! {
    /// Household income band, relative to the customer's country.
    IncomeBand { Low => "low", LowerMiddle => "lower_middle", Middle => "middle", UpperMiddle => "upper_middle", High => "high" }
}

crate::string_enum! {
    /// Highest completed education.
    Education {
        Primary => "primary", Secondary => "secondary", Vocational => "vocational", Bachelor => "bachelor",
        Master => "master", Doctorate => "doctorate", Other => "other",
    }
}

/// How a customer list is ordered; every order ends with the id, so it is total. On the wire:
/// `-created_at` (the default, newest first), `created_at`, `-updated_at`, `updated_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub enum CustomerSort {
    #[serde(rename = "created_at")]
    CreatedAsc,
    #[default]
    #[serde(rename = "-created_at")]
    CreatedDesc,
    #[serde(rename = "updated_at")]
    UpdatedAsc,
    #[serde(rename = "-updated_at")]
    UpdatedDesc,
}

impl CustomerSort {
    /// The wire name, which also binds pagination cursors to their sort.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAsc => "created_at",
            Self::CreatedDesc => "-created_at",
            Self::UpdatedAsc => "updated_at",
            Self::UpdatedDesc => "-updated_at",
        }
    }
}

/// Postal address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub line1: Option<String>,
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub line2: Option<String>,
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub city: Option<String>,
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub region: Option<String>,
    #[validate(length(max = 20))]
    #[schema(max_length = 20)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `ES`.
    #[validate(custom(function = "validation::country_code"))]
    #[schema(schema_with = crate::codes::optional_country_schema)]
    pub country: Option<String>,
}

/// Demographics, as segmentation uses them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Demographics {
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub occupation: Option<String>,
    pub income_band: Option<IncomeBand>,
    pub education: Option<Education>,
    /// People in the household, 1 to 20.
    #[validate(range(min = 1, max = 20))]
    #[schema(minimum = 1, maximum = 20)]
    pub household_size: Option<i32>,
}

/// How the customer likes to be addressed and what they like to buy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// BCP 47 language tag, e.g. `es` or `pt-BR`.
    #[validate(custom(function = "validation::language_tag"))]
    #[schema(pattern = "^\\s*$|^(?=.{2,35}$)[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
    pub language: Option<String>,
    /// ISO 4217 currency code, e.g. `EUR`.
    #[validate(custom(function = "validation::currency_code"))]
    #[schema(schema_with = crate::codes::optional_currency_schema)]
    pub currency: Option<String>,
    pub channel: Option<Channel>,
    /// Product categories the customer prefers.
    #[serde(default)]
    #[validate(length(max = 50), custom(function = "short_labels"))]
    #[schema(value_type = Vec<crate::codes::Label>, max_items = 50)]
    pub product_categories: Vec<String>,
}

/// Everything a client may write about a customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "identifiable"))]
pub struct CustomerDraft {
    /// The customer's id in another system (a shop, a former CRM); unique. Imports find
    /// customers by it, so importing a file twice creates nobody twice.
    #[validate(length(min = 1, max = 200))]
    #[schema(max_length = 200)]
    pub external_ref: Option<String>,
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub given_name: Option<String>,
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub family_name: Option<String>,
    /// Primary e-mail address; stored in lower case.
    #[validate(email, length(max = 254))]
    #[schema(schema_with = crate::codes::optional_email_schema)]
    pub email: Option<String>,
    /// Primary phone in E.164; separators are dropped on input.
    #[validate(custom(function = "validation::e164_phone"))]
    #[schema(
        example = "+34912345678",
        pattern = "^\\s*$|^\\+[ .()-]*[1-9]([ .()-]*[0-9]){6,14}[ .()-]*$"
    )]
    pub phone: Option<String>,
    #[serde(default)]
    #[validate(length(max = 10), custom(function = "emails"))]
    #[schema(value_type = Vec<crate::codes::EmailAddress>, max_items = 10)]
    pub other_emails: Vec<String>,
    #[serde(default)]
    #[validate(length(max = 10), custom(function = "phones"))]
    #[schema(value_type = Vec<crate::codes::PhoneNumber>, max_items = 10)]
    pub other_phones: Vec<String>,
    #[serde(default)]
    #[validate(nested)]
    pub address: Address,
    /// Not in the future, not before 1900.
    #[validate(custom(function = "past_birth_date"))]
    #[schema(pattern = "^(19|[2-9][0-9])[0-9]{2}-")]
    pub birth_date: Option<NaiveDate>,
    /// Network → handle, e.g. `{"instagram": "@ana"}`.
    #[serde(default)]
    #[validate(length(max = 20), custom(function = "social_handles"))]
    #[schema(schema_with = crate::codes::social_handles_schema)]
    pub social_handles: BTreeMap<String, String>,
    #[serde(default)]
    #[validate(nested)]
    pub demographics: Demographics,
    #[serde(default)]
    #[validate(nested)]
    pub preferences: Preferences,
    /// Free labels; stored in lower case, without duplicates.
    #[serde(default)]
    #[validate(length(max = 50), custom(function = "short_labels"))]
    #[schema(value_type = Vec<crate::codes::Label>, max_items = 50)]
    pub tags: Vec<String>,
    /// Any JSON object, up to 16 KiB.
    #[serde(default)]
    #[validate(custom(function = "validation::small_json_object"))]
    #[schema(value_type = Object)]
    pub custom_attributes: Map<String, Value>,
    pub acquisition_channel: Option<AcquisitionChannel>,
    #[serde(default)]
    pub lifecycle_stage: LifecycleStage,
}

/// A stored customer: the draft's fields plus identity, timestamps and version. It serialises
/// through [`CustomerView`], the one definition of a customer on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub id: Uuid,
    pub draft: CustomerDraft,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when archived (deleted); archived customers are hidden from lists by default.
    pub archived_at: Option<DateTime<Utc>>,
    /// Increases on every change; the `ETag` is derived from it.
    pub version: i64,
}

impl Customer {
    /// This customer as it goes on the wire.
    pub fn view(&self) -> CustomerView<'_> {
        let d = &self.draft;
        CustomerView {
            id: self.id,
            external_ref: d.external_ref.as_deref(),
            given_name: d.given_name.as_deref(),
            family_name: d.family_name.as_deref(),
            email: d.email.as_deref(),
            phone: d.phone.as_deref(),
            other_emails: &d.other_emails,
            other_phones: &d.other_phones,
            address: AddressView {
                line1: d.address.line1.as_deref(),
                line2: d.address.line2.as_deref(),
                city: d.address.city.as_deref(),
                region: d.address.region.as_deref(),
                postal_code: d.address.postal_code.as_deref(),
                country: d.address.country.as_deref(),
            },
            birth_date: d.birth_date,
            social_handles: &d.social_handles,
            demographics: DemographicsView {
                occupation: d.demographics.occupation.as_deref(),
                income_band: d.demographics.income_band,
                education: d.demographics.education,
                household_size: d.demographics.household_size,
            },
            preferences: &d.preferences,
            tags: &d.tags,
            custom_attributes: &d.custom_attributes,
            acquisition_channel: d.acquisition_channel,
            lifecycle_stage: d.lifecycle_stage,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
            version: self.version,
        }
    }
}

impl Serialize for Customer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(s)
    }
}

/// A customer on the wire, borrowed: the one place its JSON shape is written. Both a
/// [`Customer`] and the store's rows (which serialise without copying their text columns into
/// owned strings) serialise through it, so a list item and a single read cannot differ. The
/// layout is the draft's fields in order, with `id` first and the stored metadata last.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CustomerView<'a> {
    pub id: Uuid,
    pub external_ref: Option<&'a str>,
    pub given_name: Option<&'a str>,
    pub family_name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub other_emails: &'a [String],
    pub other_phones: &'a [String],
    pub address: AddressView<'a>,
    pub birth_date: Option<NaiveDate>,
    pub social_handles: &'a BTreeMap<String, String>,
    pub demographics: DemographicsView<'a>,
    pub preferences: &'a Preferences,
    pub tags: &'a [String],
    pub custom_attributes: &'a Map<String, Value>,
    pub acquisition_channel: Option<AcquisitionChannel>,
    pub lifecycle_stage: LifecycleStage,
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub archived_at: Option<DateTime<Utc>>,
    pub version: i64,
}

/// [`Address`], borrowed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AddressView<'a> {
    pub line1: Option<&'a str>,
    pub line2: Option<&'a str>,
    pub city: Option<&'a str>,
    pub region: Option<&'a str>,
    pub postal_code: Option<&'a str>,
    pub country: Option<&'a str>,
}

/// [`Demographics`], borrowed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DemographicsView<'a> {
    pub occupation: Option<&'a str>,
    pub income_band: Option<IncomeBand>,
    pub education: Option<Education>,
    pub household_size: Option<i32>,
}

/// The fields a stored customer adds to its draft (for the schema only).
#[derive(ToSchema)]
#[allow(dead_code)]
struct CustomerMeta {
    id: Uuid,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    archived_at: Option<DateTime<Utc>>,
    version: i64,
}

// Written by hand so the document shows one flat object: the derive would give
// `allOf [CustomerDraft, …]`, and the draft forbids additional properties.
impl utoipa::PartialSchema for Customer {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::Schema;
        use utoipa::openapi::RefOr;
        let draft = <CustomerDraft as utoipa::PartialSchema>::schema();
        let meta = <CustomerMeta as utoipa::PartialSchema>::schema();
        match (draft, meta) {
            (RefOr::T(Schema::Object(mut d)), RefOr::T(Schema::Object(m))) => {
                d.additional_properties = None;
                d.description = Some("A stored customer.".into());
                d.properties.extend(m.properties);
                d.required.extend(m.required);
                RefOr::T(Schema::Object(d))
            }
            (d, _) => d,
        }
    }
}

impl ToSchema for Customer {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <CustomerDraft as ToSchema>::schemas(schemas);
    }
}

impl CustomerDraft {
    /// Normalises then validates: the only way to a draft that may be stored.
    pub fn parse(mut self) -> Result<Self, ValidationFailure> {
        self.normalize();
        self.validate()?;
        Ok(self)
    }

    fn normalize(&mut self) {
        fn clean(v: &mut Option<String>) {
            if let Some(s) = v {
                let t = s.trim();
                if t.is_empty() {
                    *v = None;
                } else if t.len() != s.len() {
                    *s = t.to_owned();
                }
            }
        }
        for v in [
            &mut self.external_ref,
            &mut self.given_name,
            &mut self.family_name,
            &mut self.email,
            &mut self.phone,
            &mut self.address.line1,
            &mut self.address.line2,
            &mut self.address.city,
            &mut self.address.region,
            &mut self.address.postal_code,
            &mut self.address.country,
            &mut self.demographics.occupation,
            &mut self.preferences.language,
            &mut self.preferences.currency,
        ] {
            clean(v);
        }
        if let Some(e) = &mut self.email {
            *e = e.to_lowercase();
        }
        if let Some(p) = &mut self.phone {
            *p = validation::normalize_phone(p);
        }
        for e in &mut self.other_emails {
            *e = e.trim().to_lowercase();
        }
        for p in &mut self.other_phones {
            *p = validation::normalize_phone(p);
        }
        if let Some(c) = &mut self.address.country {
            *c = c.to_ascii_uppercase();
        }
        if let Some(c) = &mut self.preferences.currency {
            *c = c.to_ascii_uppercase();
        }
        dedup_labels(&mut self.tags);
        dedup_labels(&mut self.preferences.product_categories);
    }

    /// Lower-case text that free-text search (`q`) matches against.
    pub fn search_text(&self) -> String {
        [&self.given_name, &self.family_name, &self.email]
            .into_iter()
            .flatten()
            .map(|s| s.to_lowercase())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

pub(crate) fn dedup_labels(labels: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    labels.retain_mut(|t| {
        *t = t.trim().to_lowercase();
        seen.insert(t.clone())
    });
}

/// A customer is somebody: a name, an e-mail or a phone.
pub const IDENTITY: crate::shape::AtLeastOne = crate::shape::AtLeastOne {
    schema: "CustomerDraft",
    fields: &["given_name", "family_name", "email", "phone"],
};

fn identifiable(d: &CustomerDraft) -> Result<(), ValidationError> {
    let present = |field: &str| match field {
        "given_name" => d.given_name.is_some(),
        "family_name" => d.family_name.is_some(),
        "email" => d.email.is_some(),
        "phone" => d.phone.is_some(),
        _ => false,
    };
    if !IDENTITY.fits(present) {
        Err(error(
            "identity_required",
            "a customer needs at least a name, an e-mail or a phone",
        ))
    } else {
        Ok(())
    }
}

fn emails(list: &[String]) -> Result<(), ValidationError> {
    use validator::ValidateEmail;
    if list.iter().all(|e| e.len() <= 254 && e.validate_email()) {
        Ok(())
    } else {
        Err(error("email", "every entry must be a valid e-mail address"))
    }
}

fn phones(list: &[String]) -> Result<(), ValidationError> {
    if list.iter().all(|p| validation::e164_phone(p).is_ok()) {
        Ok(())
    } else {
        Err(error(
            "phone",
            "every entry must be an international phone number, e.g. +34912345678",
        ))
    }
}

pub(crate) fn short_labels(list: &[String]) -> Result<(), ValidationError> {
    if list
        .iter()
        .all(|t| !t.is_empty() && t.chars().count() <= 50)
    {
        Ok(())
    } else {
        Err(error("label", "every entry must be 1 to 50 characters"))
    }
}

fn past_birth_date(date: &NaiveDate) -> Result<(), ValidationError> {
    let today = Utc::now().date_naive();
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    if *date > today {
        Err(error("not_in_future", "must not be in the future"))
    } else if *date < earliest {
        Err(error("range", "must not be before 1900-01-01"))
    } else {
        Ok(())
    }
}

fn social_handles(map: &BTreeMap<String, String>) -> Result<(), ValidationError> {
    let ok = map.iter().all(|(k, v)| {
        (1..=30).contains(&k.len())
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !v.trim().is_empty()
            && v.chars().count() <= 100
    });
    if ok {
        Ok(())
    } else {
        Err(error(
            "social_handle",
            "networks are lower-case names of up to 30 characters; handles 1 to 100 characters",
        ))
    }
}

/// Applies an RFC 7396 JSON merge patch to `target`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(v: Value) -> CustomerDraft {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn parse_normalises_contact_data() {
        let d = draft(json!({"email": " Ana@Example.COM ", "phone": "+34 912 345-678", "tags": ["VIP", "vip ", "new"], "address": {"country": "es"}}))
            .parse()
            .unwrap();
        assert_eq!(d.email.as_deref(), Some("ana@example.com"));
        assert_eq!(d.phone.as_deref(), Some("+34912345678"));
        assert_eq!(d.tags, vec!["vip", "new"]);
        assert_eq!(d.address.country.as_deref(), Some("ES"));
    }

    #[test]
    fn parse_reports_every_bad_field_with_its_path() {
        let err = draft(json!({"email": "nope", "address": {"country": "XX"}, "preferences": {"currency": "EURO"}}))
            .parse()
            .unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["address.country", "email", "preferences.currency"]
        );
    }

    #[test]
    fn a_customer_needs_some_identity() {
        let err = draft(json!({"tags": ["x"]})).parse().unwrap_err();
        assert_eq!(err.0[0].code, "identity_required");
    }

    #[test]
    fn birth_dates_in_the_future_are_refused() {
        let next_year = Utc::now().date_naive() + chrono::Days::new(400);
        let err = draft(json!({"given_name": "Ana", "birth_date": next_year}))
            .parse()
            .unwrap_err();
        assert_eq!(err.0[0].code, "not_in_future");
    }

    #[test]
    fn a_customer_serialises_as_its_draft_plus_metadata() {
        // Guards the hand-written view against drift from the draft: every field of a fully
        // populated draft must come out, in the draft's order, between `id` and the metadata.
        let d = draft(json!({
            "given_name": "Ana", "family_name": "García", "email": "ana@example.com",
            "phone": "+34912345678", "other_emails": ["a@b.example"], "other_phones": ["+390612345678"],
            "address": {"line1": "a", "line2": "b", "city": "c", "region": "d", "postal_code": "e", "country": "ES"},
            "birth_date": "1985-05-12", "social_handles": {"x": "@ana"},
            "demographics": {"occupation": "o", "income_band": "high", "education": "master", "household_size": 3},
            "preferences": {"language": "es", "currency": "EUR", "channel": "email", "product_categories": ["books"]},
            "tags": ["vip"], "custom_attributes": {"k": [1, {"z": null}]},
            "acquisition_channel": "referral", "lifecycle_stage": "customer"
        }));
        let t = DateTime::parse_from_rfc3339("2026-03-01T09:05:07.000123Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = Customer {
            id: Uuid::nil(),
            draft: d.clone(),
            created_at: t,
            updated_at: t,
            archived_at: Some(t),
            version: 7,
        };
        let draft_text = serde_json::to_string(&d).unwrap();
        let expected = format!(
            "{{\"id\":\"{}\",{},\"created_at\":\"{ts}\",\"updated_at\":\"{ts}\",\"archived_at\":\"{ts}\",\"version\":7}}",
            Uuid::nil(),
            &draft_text[1..draft_text.len() - 1],
            ts = "2026-03-01T09:05:07.000123Z"
        );
        assert_eq!(serde_json::to_string(&c).unwrap(), expected);
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
        merge_patch(&mut doc, &json!(["x"]));
        assert_eq!(doc, json!(["x"]));
    }
}
