//! The HTTP error policy.
//!
//! Every error leaves as an RFC 9457 `application/problem+json` document with a stable machine
//! `code` (one table below maps each code to its status and title). Clients switch on `code`.
//! Layers: the store returns `StoreError`, the domain `ValidationFailure`; both convert into
//! [`ApiError`] here. 5xx causes are logged with their chain and never sent to the client.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use rapport_domain::conflict::Conflict;
use rapport_domain::{FieldError, ValidationFailure};
use rapport_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Stable error codes. `status` and `title` come from this table only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BadRequest,
    MalformedJson,
    InvalidQuery,
    InvalidPath,
    InvalidCursor,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    PreconditionFailed,
    RequestTimeout,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    RateLimited,
    Internal,
    Unavailable,
}

impl Code {
    pub fn parts(self) -> (StatusCode, &'static str, &'static str) {
        use Code::*;
        match self {
            BadRequest => (StatusCode::BAD_REQUEST, "bad_request", "Bad request"),
            MalformedJson => (StatusCode::BAD_REQUEST, "malformed_json", "Malformed JSON"),
            InvalidQuery => (
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "Invalid query parameters",
            ),
            InvalidPath => (
                StatusCode::BAD_REQUEST,
                "invalid_path",
                "Invalid path parameter",
            ),
            InvalidCursor => (
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                "Invalid pagination cursor",
            ),
            Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency key reused",
            ),
            IdempotencyInProgress => (
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "Idempotency key in use",
            ),
            NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "Precondition failed",
            ),
            RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "Request body timed out",
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            ValidationFailed => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Validation failed",
            ),
            RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
            ),
            Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
            Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
        }
    }

    /// The code for a bare status, used when actix itself answered with an error.
    pub fn for_status(status: StatusCode) -> Code {
        match status.as_u16() {
            400 => Code::BadRequest,
            401 => Code::Unauthorized,
            403 => Code::Forbidden,
            404 => Code::NotFound,
            405 => Code::MethodNotAllowed,
            408 => Code::RequestTimeout,
            412 => Code::PreconditionFailed,
            413 => Code::PayloadTooLarge,
            415 => Code::UnsupportedMediaType,
            422 => Code::ValidationFailed,
            429 => Code::RateLimited,
            503 => Code::Unavailable,
            _ => Code::Internal,
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// URI naming the problem kind: `urn:rapport:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code (`validation_failed`, `not_found`, …).
    pub code: String,
    /// Per-field problems, on 422.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// On a refused ticket status change (`illegal_transition`, `reopen_window_closed`): the
    /// statuses the ticket may move to now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_statuses: Option<Vec<rapport_domain::ticket::TicketStatus>>,
    /// On `duplicate_external_ref`: the record that has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<uuid::Uuid>,
    /// On a refused import: what was read and every bad row with its line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Box<crate::transfer::ImportReport>>,
}

/// The logged cause of a 5xx, carried on the response to the logging middleware.
#[derive(Debug, Clone)]
pub struct ErrorCause(pub String);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A client error with a code and a detail meant for the client.
    #[error("{detail}")]
    Client { code: Code, detail: String },
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A server error; the cause is logged, never shown.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
    #[error("unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// A business rule refused the write (409, with the rule's own code).
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// An `all_or_nothing` import met invalid rows and wrote nothing.
    #[error("import refused")]
    ImportRefused(Box<crate::transfer::ImportReport>),
}

impl ApiError {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        ApiError::Client {
            code,
            detail: detail.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("{what} not found"))
    }

    pub fn problem(&self) -> Problem {
        let (code, detail, errors) = match self {
            ApiError::ImportRefused(report) => {
                let mut p = problem(
                    Code::ValidationFailed,
                    format!(
                        "{} of {} rows are invalid; nothing was written (see `report.errors`, or import with mode=skip_invalid)",
                        report.invalid, report.rows
                    ),
                    None,
                );
                p.report = Some(report.clone());
                return p;
            }
            ApiError::Conflict(c) => {
                let (status, _, _) = Code::IdempotencyInProgress.parts();
                return Problem {
                    kind: format!("urn:rapport:problem:{}", c.code()),
                    title: "Conflict with the current state".to_owned(),
                    status: status.as_u16(),
                    detail: c.detail(),
                    code: c.code().to_owned(),
                    errors: None,
                    allowed_statuses: c.allowed_statuses(),
                    existing_id: c.existing_id(),
                    report: None,
                };
            }
            ApiError::Client { code, detail } => (*code, detail.clone(), None),
            ApiError::Validation(errors) => (
                Code::ValidationFailed,
                "the request body broke one or more rules; see `errors`".to_owned(),
                Some(errors.clone()),
            ),
            ApiError::Internal(_) => (
                Code::Internal,
                "something went wrong on our side; it has been logged".into(),
                None,
            ),
            ApiError::Unavailable(_) => (
                Code::Unavailable,
                "the database is unavailable; try again shortly".into(),
                None,
            ),
        };
        problem(code, detail, errors)
    }
}

pub fn problem(code: Code, detail: impl Into<String>, errors: Option<Vec<FieldError>>) -> Problem {
    let (status, name, title) = code.parts();
    Problem {
        kind: format!("urn:rapport:problem:{name}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail: detail.into(),
        code: name.to_owned(),
        errors,
        allowed_statuses: None,
        existing_id: None,
        report: None,
    }
}

/// A problem+json response.
pub fn problem_response(p: &Problem) -> HttpResponse {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
    if status == StatusCode::UNAUTHORIZED {
        res.insert_header((
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"rapport\""),
        ));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
    }
    res.body(serde_json::to_vec(p).unwrap_or_default())
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.problem().status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = problem_response(&self.problem());
        // The cause goes to the log, never to the client: the request middleware logs it with
        // the request id (see `middleware::observe`).
        match self {
            ApiError::Internal(e) | ApiError::Unavailable(e) => {
                res.extensions_mut().insert(ErrorCause(format!("{e:?}")));
            }
            _ => {}
        }
        res
    }
}

impl From<ValidationFailure> for ApiError {
    fn from(v: ValidationFailure) -> Self {
        ApiError::Validation(v.0)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::new(Code::NotFound, "not found"),
            StoreError::Conflict(Conflict::IdempotencyTakenOver) => ApiError::new(
                Code::IdempotencyInProgress,
                Conflict::IdempotencyTakenOver.detail(),
            ),
            StoreError::Conflict(c) => ApiError::Conflict(c),
            StoreError::VersionMismatch => ApiError::new(
                Code::PreconditionFailed,
                "the resource changed since it was read; fetch it again",
            ),
            StoreError::MissingReference(field) => ApiError::Validation(vec![FieldError {
                field: field.into(),
                code: "not_found".into(),
                message: format!("no such {}", field.trim_end_matches("_id")),
            }]),
            StoreError::Immutable(field) => ApiError::Validation(vec![FieldError {
                field: field.into(),
                code: "immutable".into(),
                message: "cannot change once set".into(),
            }]),
            StoreError::InvalidCursor => ApiError::new(
                Code::InvalidCursor,
                "the cursor is not one this list returned for this sort",
            ),
            e if e.is_unavailable() => ApiError::Unavailable(e.into()),
            e => ApiError::Internal(e.into()),
        }
    }
}

/// Names the store's anonymous "not found": `.map_err(not_found_as("customer"))` turns it into
/// `customer not found`, and leaves every other error alone.
pub fn not_found_as(what: &'static str) -> impl Fn(ApiError) -> ApiError {
    move |e| match e {
        ApiError::Client {
            code: Code::NotFound,
            ..
        } => ApiError::not_found(what),
        other => other,
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn server_errors_hide_their_cause_from_the_client_and_hand_it_to_the_log() {
        let e = ApiError::Internal(anyhow::anyhow!("password=hunter2 at db.example:5432"));
        let res = e.error_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let cause = res.extensions().get::<ErrorCause>().cloned().unwrap();
        assert!(cause.0.contains("hunter2"));
        let body = res.into_body().try_into_bytes().unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains("db.example"),
            "{text}"
        );
        assert!(text.contains("\"code\":\"internal\""));
    }

    #[test]
    fn store_errors_map_to_stable_codes() {
        let code = |e: StoreError| ApiError::from(e).problem().code;
        assert_eq!(code(StoreError::NotFound), "not_found");
        assert_eq!(code(StoreError::VersionMismatch), "precondition_failed");
        assert_eq!(code(StoreError::InvalidCursor), "invalid_cursor");
        assert_eq!(
            code(StoreError::Conflict(Conflict::CustomerArchived)),
            "customer_archived"
        );
        assert_eq!(code(StoreError::Connect("refused".into())), "unavailable");
        assert_eq!(code(StoreError::Corrupt("x".into())), "internal");
    }
}
