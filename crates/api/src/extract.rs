//! Request extractors with the error classes the API promises: a body that is not JSON is 400,
//! JSON of the wrong shape or type is 422 naming the field, a wrong content type is 415, a body
//! over the limit is 413.

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use rapport_domain::FieldError;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Code};

/// Largest JSON body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

fn content_type_ok(req: &HttpRequest, allow_merge_patch: bool) -> bool {
    let Some(ct) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (allow_merge_patch && mime == "application/merge-patch+json")
}

async fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> Result<actix_web::web::Bytes, ApiError> {
    actix_web::web::Bytes::from_request(req, payload)
        .await
        .map_err(|e| {
            if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
            {
                ApiError::new(
                    Code::PayloadTooLarge,
                    format!("the body must be at most {MAX_BODY_BYTES} bytes"),
                )
            } else {
                ApiError::new(Code::BadRequest, "the request body could not be read")
            }
        })
}

use crate::nul::json_has_nul;

/// Deserialises JSON, classifying failures: syntax → 400, shape/type → 422 with the field path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if json_has_nul(bytes) {
        return Err(ApiError::Validation(vec![FieldError {
            field: "body".into(),
            code: "nul_character".into(),
            message: "text must not contain NUL characters (\\u0000)".into(),
        }]));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        (path, inner)
    });
    match value {
        Ok(value) => {
            de.end().map_err(|e| json_error(".", &e))?;
            Ok(value)
        }
        // JSON has one kind of number: `3.0` is the integer 3 (as JSON Schema says), which serde
        // refuses for an integer field. Only a body that failed pays for the second reading.
        Err((path, e)) if e.classify() == serde_json::error::Category::Data => {
            integral_floats_as_integers(bytes).ok_or_else(|| json_error(&path, &e))
        }
        Err((path, e)) => Err(json_error(&path, &e)),
    }
}

/// The body read again with every integral number (`3.0`, `1e3`) as an integer; `None` when it
/// has none, or still does not fit `T`.
fn integral_floats_as_integers<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    fn fix(v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(n) if n.is_f64() => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    *v = serde_json::Value::from(f as i64);
                    true
                }
                _ => false,
            },
            // Every item is fixed, so no short-circuiting `any`.
            serde_json::Value::Array(items) => items.iter_mut().map(fix).filter(|&f| f).count() > 0,
            serde_json::Value::Object(map) => map.values_mut().map(fix).filter(|&f| f).count() > 0,
            _ => false,
        }
    }
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if !fix(&mut value) {
        return None;
    }
    serde_json::from_value(value).ok()
}

fn json_error(path: &str, e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => {
            let field = if path == "." || path.is_empty() {
                "body".to_owned()
            } else {
                path.to_owned()
            };
            // serde's message names the expected type or the unknown field, never internals.
            let message = e.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            let code = if message.starts_with("unknown field") {
                "unknown_field"
            } else if message.starts_with("missing field") {
                "required"
            } else {
                "type"
            };
            ApiError::Validation(vec![FieldError {
                field,
                code: code.into(),
                message,
            }])
        }
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            Code::MalformedJson,
            format!("the body is not valid JSON ({e})"),
        ),
    }
}

/// The raw body of a JSON request, after the content-type and size checks.
fn json_bytes(
    req: &HttpRequest,
    payload: &mut Payload,
    allow_merge_patch: bool,
) -> impl std::future::Future<Output = Result<actix_web::web::Bytes, ApiError>> + 'static {
    let req = req.clone();
    let mut payload = payload.take();
    async move {
        if !content_type_ok(&req, allow_merge_patch) {
            let expected = if allow_merge_patch {
                "send the patch as application/merge-patch+json or application/json"
            } else {
                "send the body as application/json"
            };
            return Err(ApiError::new(Code::UnsupportedMediaType, expected));
        }
        read_body(&req, &mut payload).await
    }
}

/// A JSON body deserialised into `T`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = json_bytes(req, payload, false);
        Box::pin(async move { parse_json(&body.await?).map(JsonBody) })
    }
}

/// A JSON merge patch (RFC 7396) body: `application/merge-patch+json` or `application/json`.
pub struct MergePatch(pub serde_json::Value);

impl FromRequest for MergePatch {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = json_bytes(req, payload, true);
        Box::pin(async move {
            let bytes = body.await?;
            let value: serde_json::Value = parse_json(&bytes)?;
            if !value.is_object() {
                return Err(ApiError::Validation(vec![FieldError {
                    field: "body".into(),
                    code: "type".into(),
                    message: "a merge patch must be a JSON object".into(),
                }]));
            }
            Ok(MergePatch(value))
        })
    }
}

/// Entity tags are the resource version: `"v7"`.
pub fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

/// A stored resource with a version, which every write bumps: its `ETag` is `"v{version}"`,
/// `If-Match` guards its writes (412) and `If-None-Match` its reads (304).
pub trait Versioned {
    fn version(&self) -> i64;
}

macro_rules! versioned {
    ($($t:ty),*) => {$(
        impl Versioned for $t {
            fn version(&self) -> i64 {
                self.version
            }
        }
    )*};
}
versioned!(
    rapport_domain::customer::Customer,
    rapport_domain::interaction::Interaction,
    rapport_domain::loyalty::Program,
    rapport_domain::loyalty::Reward,
    rapport_domain::ticket::Ticket,
    rapport_domain::ticket::SlaPolicy,
    rapport_domain::auth::User,
    rapport_domain::auth::ApiKey
);

impl Versioned for rapport_store::customers::CustomerRecord {
    fn version(&self) -> i64 {
        rapport_store::customers::CustomerRecord::version(self)
    }
}

/// One versioned resource as the answer: `status`, its `ETag`, the JSON body.
pub fn versioned<T: Versioned + serde::Serialize>(status: StatusCode, value: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(value.version())))
        .json(value)
}

/// A read of one versioned resource: 304 with the `ETag` when `If-None-Match` names it (or is
/// `*`), else 200 with the body.
pub fn read_versioned<T: Versioned + serde::Serialize>(
    req: &HttpRequest,
    value: &T,
) -> HttpResponse {
    if if_none_match(req, value.version()) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(value.version())))
            .finish();
    }
    versioned(StatusCode::OK, value)
}

/// The `If-Match` precondition: `None` when absent or `*`; else the version it names.
pub fn if_match(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(raw) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let Ok(text) = raw.to_str() else {
        return Ok(Some(0)); // not text: no entity tag of ours
    };
    if text.trim() == "*" || text.trim().is_empty() {
        return Ok(None);
    }
    let first = text.split(',').next().unwrap_or("").trim();
    let first = first.strip_prefix("W/").unwrap_or(first);
    Ok(Some(
        first
            .strip_prefix("\"v")
            .and_then(|s| s.strip_suffix('"'))
            .and_then(|s| s.parse::<i64>().ok())
            // An entity tag we never issued matches no version (they start at 1): the write
            // answers 412, after its body has been judged.
            .unwrap_or(0),
    ))
}

/// Whether `If-None-Match` names this version (for 304 on GET).
pub fn if_none_match(req: &HttpRequest, version: i64) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag(version) || t.trim() == "*")
        })
}

/// Query parameters where a repeated parameter is a list (`?tag=a&tag=b` into a `Vec`, meaning
/// any of them), which actix's own `Query` refuses as a duplicate field. Bad input is a 400
/// `invalid_query`, as with [`query_config`].
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: serde::de::DeserializeOwned> actix_web::FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            serde_html_form::from_str::<T>(req.query_string())
                .map(Query)
                .map_err(|e| {
                    ApiError::new(Code::InvalidQuery, format!("bad query parameters: {e}")).into()
                }),
        )
    }
}

/// Query and path errors as problems.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|e, _| {
        ApiError::new(Code::InvalidQuery, format!("bad query parameters: {e}")).into()
    })
}

pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default().error_handler(|e, _| {
        ApiError::new(Code::InvalidPath, format!("bad path parameter: {e}")).into()
    })
}

/// The path of a field a merge patch sets to `null` that the document it patches does not have.
fn unknown_null(doc: &serde_json::Value, patch: &serde_json::Value, at: &str) -> Option<String> {
    let (serde_json::Value::Object(doc), serde_json::Value::Object(patch)) = (doc, patch) else {
        return None;
    };
    patch.iter().find_map(|(key, value)| {
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        match doc.get(key) {
            None if value.is_null() => Some(path),
            Some(inner) => unknown_null(inner, value, &path),
            None => None,
        }
    })
}

/// Read, merge, check, write: a `PATCH` with a JSON merge patch (RFC 7396). `read` returns the
/// current draft and version; the patched draft is parsed like a create, so a patch can never
/// produce what a create would refuse; `write` stores it if the version is unchanged. Without
/// `If-Match`, a concurrent change is merged again (a few times) instead of being overwritten.
pub async fn apply_merge_patch<D, T, R, RF, W, WF>(
    expected: Option<i64>,
    patch: &serde_json::Value,
    read: R,
    write: W,
) -> Result<T, ApiError>
where
    D: rapport_domain::Draft,
    R: Fn() -> RF,
    RF: std::future::Future<Output = Result<(D, i64), ApiError>>,
    W: Fn(D, i64) -> WF,
    WF: std::future::Future<Output = Result<T, ApiError>>,
{
    for _ in 0..5 {
        let (current, version) = read().await?;
        // The patch is judged before the precondition: a bad body is a 422 whatever the ETag.
        let mut doc = serde_json::to_value(&current).map_err(|e| ApiError::Internal(e.into()))?;
        // `null` removes a field, so an unknown one would pass unseen: refuse it as a create
        // refuses an unknown field (every field of a draft is in its serialised form).
        if let Some(field) = unknown_null(&doc, patch, "") {
            return Err(ApiError::Validation(vec![FieldError {
                field,
                code: "unknown_field".into(),
                message: "no such field".into(),
            }]));
        }
        rapport_domain::customer::merge_patch(&mut doc, patch);
        let bytes = serde_json::to_vec(&doc).map_err(|e| ApiError::Internal(e.into()))?;
        let draft = parse_json::<D>(&bytes)?.parse()?;
        if expected.is_some_and(|v| v != version) {
            return Err(ApiError::new(
                Code::PreconditionFailed,
                "If-Match does not match the current entity tag",
            ));
        }
        match write(draft, version).await {
            Err(ApiError::Client {
                code: Code::PreconditionFailed,
                ..
            }) if expected.is_none() => continue,
            other => return other,
        }
    }
    Err(ApiError::Conflict(
        rapport_domain::conflict::Conflict::ConcurrentUpdate,
    ))
}
