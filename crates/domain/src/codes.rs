//! The code lists a request's fields are checked against, as the API document states them: so
//! that a value the document allows is one the server accepts, and the other way round.

use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::openapi::SchemaFormat;

/// Every ISO 4217 currency code, upper case.
pub fn currencies() -> Vec<&'static str> {
    use iso_currency::IntoEnumIterator;
    let mut codes: Vec<&'static str> = iso_currency::Currency::iter().map(|c| c.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// Every ISO 3166-1 alpha-2 country code.
pub fn countries() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = isocountry::CountryCode::iter()
        .map(|c| c.alpha2())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

fn code_schema(
    codes: Vec<&'static str>,
    nullable: bool,
    description: &str,
    example: &str,
) -> Object {
    let ty = if nullable {
        utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null])
    } else {
        utoipa::openapi::schema::SchemaType::new(Type::String)
    };
    let mut values: Vec<serde_json::Value> = codes.into_iter().map(Into::into).collect();
    if nullable {
        values.push(serde_json::Value::Null);
    }
    ObjectBuilder::new()
        .schema_type(ty)
        .enum_values(Some(values))
        .description(Some(description))
        .examples([example])
        .format(None::<SchemaFormat>)
        .build()
}

/// The schema of a currency field: an ISO 4217 code.
pub fn currency_schema() -> Object {
    code_schema(
        currencies(),
        false,
        "ISO 4217 currency code, e.g. `EUR`",
        "EUR",
    )
}

/// The schema of an optional currency field.
pub fn optional_currency_schema() -> Object {
    code_schema(
        currencies(),
        true,
        "ISO 4217 currency code, e.g. `EUR`",
        "EUR",
    )
}

/// The schema of an optional country field: an ISO 3166-1 alpha-2 code.
pub fn optional_country_schema() -> Object {
    code_schema(
        countries(),
        true,
        "ISO 3166-1 alpha-2 country code, e.g. `ES`",
        "ES",
    )
}

/// A free label (a tag): 1 to 50 characters, not only spaces; stored trimmed, in lower case,
/// without duplicates.
pub struct Label;

impl utoipa::PartialSchema for Label {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::new(Type::String))
            .min_length(Some(1))
            .max_length(Some(50))
            .pattern(Some("\\S"))
            .description(Some(
                "A free label: 1 to 50 characters, not only spaces; stored trimmed and in lower case",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Label {}

/// An IANA time zone name, e.g. `Europe/Madrid`: every name the server knows.
pub fn time_zone_schema() -> Object {
    let names: Vec<serde_json::Value> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name().into())
        .collect();
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::new(Type::String))
        .enum_values(Some(names))
        .description(Some("IANA time zone name, e.g. `Europe/Madrid`"))
        .examples(["Europe/Madrid"])
        .build()
}

/// A customer's primary e-mail: an address, or blank (no address: blank text is no value).
pub fn optional_email_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{OneOfBuilder, SchemaType};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .format(Some(SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Email,
                )))
                .max_length(Some(254)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .pattern(Some("^\\s*$")),
        )
        .item(ObjectBuilder::new().schema_type(SchemaType::new(Type::Null)))
        .description(Some("Primary e-mail address; stored in lower case"))
        .examples(["ana.garcia@example.com"])
        .build()
        .into()
}

/// An e-mail address among a customer's others.
pub struct EmailAddress;

impl utoipa::PartialSchema for EmailAddress {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::new(Type::String))
            .format(Some(SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Email,
            )))
            .max_length(Some(254))
            .into()
    }
}

impl utoipa::ToSchema for EmailAddress {}

/// A phone number among a customer's others, international form (`+34 912 34 56 78`).
pub struct PhoneNumber;

/// What an international phone number looks like: `+`, then 7 to 15 digits, with spaces, dots,
/// dashes or brackets between them.
pub const PHONE_PATTERN: &str = "^\\+[ .()-]*[1-9]([ .()-]*[0-9]){6,14}[ .()-]*$";

impl utoipa::PartialSchema for PhoneNumber {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::new(Type::String))
            .pattern(Some(PHONE_PATTERN))
            .examples(["+34912345678"])
            .into()
    }
}

impl utoipa::ToSchema for PhoneNumber {}

/// A customer's social handles: network (lower-case letters, digits, `_`, up to 30) → handle
/// (1 to 100 characters, not only spaces); at most 20.
pub fn social_handles_schema() -> Object {
    let handle = ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::new(Type::String))
        .min_length(Some(1))
        .max_length(Some(100))
        .pattern(Some("\\S"));
    let mut o = ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::new(Type::Object))
        .additional_properties(Some(handle))
        .max_properties(Some(20))
        .description(Some("Network → handle, e.g. `{\"instagram\": \"@ana\"}`"))
        .build();
    o.property_names = Some(Box::new(
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::new(Type::String))
            .pattern(Some("^[a-z0-9_]{1,30}$"))
            .into(),
    ));
    o
}

/// Points that move an account: not zero, up to a billion either way.
pub fn nonzero_points_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{OneOfBuilder, SchemaType};
    let range = |min: i64, max: i64| {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Integer))
            .minimum(Some(min))
            .maximum(Some(max))
            .build()
    };
    OneOfBuilder::new()
        .item(range(1, 1_000_000_000))
        .item(range(-1_000_000_000, -1))
        .description(Some("Not zero: positive awards, negative takes"))
        .build()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_code_passes_the_rule_that_checks_it() {
        assert!(currencies().len() > 150);
        assert!(countries().len() > 240);
        for c in currencies() {
            assert!(crate::validation::currency_code(c).is_ok(), "{c}");
        }
        for c in countries() {
            assert!(crate::validation::country_code(c).is_ok(), "{c}");
        }
    }
}
