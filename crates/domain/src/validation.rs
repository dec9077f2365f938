//! Field-level validation: the error shape shared by every resource and the checks that the
//! `validator` crate does not ship (ISO codes, E.164 phones, dates in the past).

use std::borrow::Cow;

use serde::Serialize;
use validator::{ValidationError, ValidationErrors, ValidationErrorsKind};

/// One problem with one field of a request body, as returned in a 422 problem's `errors` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Dotted path of the offending field, e.g. `address.country` or `tags[3]`.
    pub field: String,
    /// Stable machine-readable code, e.g. `email`, `length`, `country_code`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// A request body that deserialised but broke a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("validation failed on {} field(s)", .0.len())]
pub struct ValidationFailure(pub Vec<FieldError>);

impl ValidationFailure {
    /// One line per broken rule, `field: message`, as the CLI prints it (the same messages the
    /// API sends in `errors`).
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn single(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self(vec![FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }])
    }
}

impl From<ValidationErrors> for ValidationFailure {
    fn from(errors: ValidationErrors) -> Self {
        let mut out = Vec::new();
        flatten("", &errors, &mut out);
        out.sort_by(|a, b| a.field.cmp(&b.field).then(a.code.cmp(&b.code)));
        Self(out)
    }
}

fn flatten(prefix: &str, errors: &ValidationErrors, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = match (prefix.is_empty(), field.as_ref()) {
            (_, "__all__") => prefix.to_owned(),
            (true, f) => f.to_owned(),
            (false, f) => format!("{prefix}.{f}"),
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    out.push(FieldError {
                        field: if path.is_empty() {
                            "body".into()
                        } else {
                            path.clone()
                        },
                        code: e.code.to_string(),
                        message: e
                            .message
                            .as_ref()
                            .map(|m| m.to_string())
                            .unwrap_or_else(|| default_message(&e.code)),
                    });
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten(&path, inner, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    flatten(&format!("{path}[{i}]"), inner, out);
                }
            }
        }
    }
}

fn default_message(code: &str) -> String {
    match code {
        "email" => "must be a valid e-mail address".into(),
        "length" => "has an invalid length".into(),
        "range" => "is out of range".into(),
        "required" => "is required".into(),
        other => format!("failed the `{other}` check"),
    }
}

pub(crate) fn error(code: &'static str, message: impl Into<Cow<'static, str>>) -> ValidationError {
    ValidationError::new(code).with_message(message.into())
}

/// ISO 3166-1 alpha-2 country code, upper case (`DE`, `IT`, `ES`).
pub fn country_code(value: &str) -> Result<(), ValidationError> {
    if value.len() == 2
        && value.bytes().all(|b| b.is_ascii_uppercase())
        && isocountry::CountryCode::for_alpha2(value).is_ok()
    {
        Ok(())
    } else {
        Err(error(
            "country_code",
            "must be an ISO 3166-1 alpha-2 country code in upper case, e.g. ES",
        ))
    }
}

/// ISO 4217 currency code, upper case (`EUR`, `USD`).
pub fn currency_code(value: &str) -> Result<(), ValidationError> {
    if value.len() == 3 && iso_currency::Currency::from_code(value).is_some() {
        Ok(())
    } else {
        Err(error(
            "currency_code",
            "must be an ISO 4217 currency code in upper case, e.g. EUR",
        ))
    }
}

/// Phone numbers are kept in E.164 form: `+`, country code, subscriber number, 8 to 15 digits.
/// Callers normalise first with [`normalize_phone`].
pub fn e164_phone(value: &str) -> Result<(), ValidationError> {
    let digits = value.strip_prefix('+').unwrap_or("");
    let ok = (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err(error(
            "phone",
            "must be an international phone number, e.g. +34 912 345 678",
        ))
    }
}

/// Drops the separators people type in phone numbers (spaces, dots, dashes, parentheses).
pub fn normalize_phone(value: &str) -> String {
    value
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '\u{a0}'))
        .collect()
}

/// A BCP 47 language tag of the simple kind CRMs use (`es`, `it`, `pt-BR`).
pub fn language_tag(value: &str) -> Result<(), ValidationError> {
    let mut parts = value.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_lowercase()));
    let rest_ok =
        parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if primary_ok && rest_ok && value.len() <= 35 {
        Ok(())
    } else {
        Err(error(
            "language",
            "must be a BCP 47 language tag, e.g. es or pt-BR",
        ))
    }
}

/// Non-blank after trimming.
/// A free-form JSON object (custom attributes, metadata) serialises to at most 16 KiB.
pub fn small_json_object(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), ValidationError> {
    let size = serde_json::to_vec(map)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size <= 16 * 1024 {
        Ok(())
    } else {
        Err(error(
            "too_large",
            "must serialise to at most 16 KiB of JSON",
        ))
    }
}

pub fn not_blank(value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        Err(error("blank", "must not be blank"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_codes_are_checked_against_the_standard_lists() {
        assert!(country_code("ES").is_ok());
        assert!(country_code("es").is_err());
        assert!(country_code("XX").is_err());
        assert!(currency_code("EUR").is_ok());
        assert!(currency_code("EURO").is_err());
        assert!(currency_code("ABC").is_err());
    }

    #[test]
    fn phones_are_normalised_then_checked_as_e164() {
        assert_eq!(normalize_phone("+34 (912) 345-678"), "+34912345678");
        assert!(e164_phone("+34912345678").is_ok());
        assert!(e164_phone("0034912345678").is_err());
        assert!(e164_phone("+0123456789").is_err());
        assert!(e164_phone("+12").is_err());
    }

    #[test]
    fn language_tags() {
        assert!(language_tag("es").is_ok());
        assert!(language_tag("pt-BR").is_ok());
        assert!(language_tag("Spanish").is_err());
    }
}
