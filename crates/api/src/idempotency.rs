//! `Idempotency-Key` on POST: a retried request (same caller, same key, same method, path and
//! body) gets the first response again, marked `Idempotent-Replayed: true`, and does nothing
//! twice. The same key with a different request is refused (422 `idempotency_key_reused`);
//! while the first attempt is still running, a retry gets 409 `idempotency_in_progress` with
//! `Retry-After`. Keys are kept 24 hours, in the database, so this holds across server
//! processes.
//!
//! The outcome is exact (see `rapport_store::idempotency`): the middleware reserves the key for
//! this attempt for a lease ([`crate::ApiConfig::idempotency_lease`]); a handler that writes
//! builds its answer inside the write's transaction with [`AppState::write_reply`], which
//! stores it there too, so the key is answered exactly when the write committed. A first
//! attempt that fails on our side (5xx) frees its key; one that died without freeing it is taken
//! over by the first retry after the lease. Answers that wrote nothing (4xx) are stored after the
//! handler, for replay.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use rapport_store::idempotency::{self, Claim, Reservation, StoredResponse};
use rapport_store::{DbConn, StoreError, StoreResult};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Code};
use crate::extract::etag;
use crate::AppState;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const RETENTION: chrono::Duration = chrono::Duration::hours(24);
/// Response headers that are part of what a replay must give back.
const KEPT_HEADERS: [HeaderName; 3] = [header::LOCATION, header::ETAG, header::CONTENT_TYPE];

/// Routes that ignore `Idempotency-Key`: imports stream bodies of any size and are idempotent
/// by `external_ref` and `id` themselves (a file imported twice writes its rows once); a new API
/// key's secret is shown once and never stored, so there is no answer to replay.
pub const EXEMPT: [&str; 3] = [
    "/api/v1/customers/import",
    "/api/v1/interactions/import",
    "/api/v1/api-keys",
];

/// The `Idempotency-Key` header, as every POST that honours it documents it
/// (`params(IdempotencyKey, …)`): one description for all of them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKey {
    /// Makes a retry safe: the same key with the same request (method, path, body) replays the
    /// first response for 24 hours, marked `Idempotent-Replayed: true`; a different request
    /// with it is a 422 `idempotency_key_reused`; while the first attempt runs, a 409
    /// `idempotency_in_progress` with `Retry-After`. 1 to 255 visible ASCII characters, per
    /// credential.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 255,
        pattern = "^[\\x21-\\x7E]+$"
    )]
    #[allow(dead_code)]
    idempotency_key: Option<String>,
}

/// Marks a response whose key was answered inside the write's transaction.
#[derive(Clone, Copy)]
struct AnsweredInTransaction;

/// A response built inside a write's transaction (see [`AppState::write_reply`]).
pub struct Reply {
    status: StatusCode,
    headers: Vec<(HeaderName, String)>,
    body: Vec<u8>,
}

/// Builds a [`Reply`]: `Reply::build(StatusCode::CREATED).location(…).etag(v).json(&value)`.
pub struct ReplyBuilder {
    status: StatusCode,
    headers: Vec<(HeaderName, String)>,
}

impl Reply {
    pub fn build(status: StatusCode) -> ReplyBuilder {
        ReplyBuilder {
            status,
            headers: Vec::new(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    fn stored(&self) -> StoredResponse {
        StoredResponse {
            status: self.status.as_u16(),
            body: self.body.clone(),
            headers: self
                .headers
                .iter()
                .filter(|(n, _)| KEPT_HEADERS.contains(n))
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        }
    }

    fn into_response(self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                res.insert_header((name, v));
            }
        }
        res.body(self.body)
    }
}

impl ReplyBuilder {
    pub fn location(mut self, path: impl Into<String>) -> Self {
        self.headers.push((header::LOCATION, path.into()));
        self
    }

    pub fn etag(mut self, version: i64) -> Self {
        self.headers.push((header::ETAG, etag(version)));
        self
    }

    /// A versioned value as the body, with its `ETag` (as [`crate::extract::versioned`] does).
    pub fn versioned<T: crate::extract::Versioned + Serialize>(
        self,
        value: &T,
    ) -> StoreResult<Reply> {
        self.etag(value.version()).json(value)
    }

    pub fn json<T: Serialize>(mut self, value: &T) -> StoreResult<Reply> {
        let body = serde_json::to_vec(value)
            .map_err(|e| StoreError::Corrupt(format!("serialising a response: {e}")))?;
        self.headers
            .push((header::CONTENT_TYPE, "application/json".to_owned()));
        Ok(Reply {
            status: self.status,
            headers: self.headers,
            body,
        })
    }
}

impl AppState {
    /// Runs a write like [`AppState::run_write`] and renders its answer in the same
    /// transaction; when the request holds an `Idempotency-Key`, the answer is stored there too,
    /// so it commits with the write or not at all. Returns the write's value and the response.
    pub async fn write_reply<T, F, R>(
        &self,
        req: &HttpRequest,
        write: F,
        render: R,
    ) -> ApiResult<(T, HttpResponse)>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> StoreResult<T> + Send + 'static,
        R: FnOnce(&T) -> StoreResult<Reply> + Send + 'static,
    {
        let claim = req.extensions().get::<Claim>().cloned();
        let answered = claim.is_some();
        let (value, reply) = self
            .run_write(move |conn| {
                let value = write(conn)?;
                let reply = render(&value)?;
                if let Some(claim) = &claim {
                    idempotency::complete(conn, claim, &reply.stored(), rapport_domain::now())?;
                }
                Ok((value, reply))
            })
            .await?;
        crate::fault::point("idempotency:committed").await;
        let mut res = reply.into_response();
        if answered {
            res.extensions_mut().insert(AnsweredInTransaction);
        }
        Ok((value, res))
    }
}

fn refuse(req: ServiceRequest, e: ApiError) -> ServiceResponse<BoxBody> {
    let res = e.error_response();
    req.into_response(res).map_into_boxed_body()
}

fn replay(req: ServiceRequest, stored: StoredResponse) -> ServiceResponse<BoxBody> {
    let mut res =
        HttpResponse::build(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK));
    for (name, value) in &stored.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            res.insert_header((n, v));
        }
    }
    res.insert_header((REPLAYED, HeaderValue::from_static("true")));
    req.into_response(res.body(stored.body))
        .map_into_boxed_body()
}

fn in_progress(
    req: ServiceRequest,
    until: chrono::DateTime<chrono::Utc>,
) -> ServiceResponse<BoxBody> {
    let e = ApiError::new(
        Code::IdempotencyInProgress,
        "a request with this Idempotency-Key is still being processed; retry after Retry-After seconds",
    );
    let mut res = e.error_response();
    let wait = (until - rapport_domain::now()).num_seconds().clamp(1, 3600);
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    req.into_response(res).map_into_boxed_body()
}

pub async fn idempotent(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(raw_key) = req.headers().get(&IDEMPOTENCY_KEY).cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if req.method() != Method::POST || EXEMPT.contains(&req.path()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let key = match raw_key.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_owned()
        }
        _ => {
            let e = ApiError::new(
                Code::BadRequest,
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            );
            return Ok(refuse(req, e));
        }
    };
    let (Some(state), Some(principal)) = (
        req.app_data::<web::Data<AppState>>().cloned(),
        req.extensions().get::<Principal>().cloned(),
    ) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };

    let body = match req.extract::<web::Bytes>().await {
        Ok(b) => b,
        Err(e) => {
            let too_large = e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE;
            let e = if too_large {
                ApiError::new(
                    Code::PayloadTooLarge,
                    "the request body is larger than allowed",
                )
            } else {
                ApiError::new(Code::BadRequest, "the request body could not be read")
            };
            return Ok(refuse(req, e));
        }
    };
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b" ");
    hasher.update(req.uri().to_string());
    hasher.update(b"\n");
    hasher.update(&body);
    let request_hash = hex::encode(hasher.finalize());

    let claim = Claim {
        principal: principal.subject.label(),
        key,
        owner: uuid::Uuid::now_v7().to_string(),
    };
    let now = rapport_domain::now();
    let lease = chrono::Duration::from_std(state.config.idempotency_lease)
        .unwrap_or(chrono::Duration::seconds(60));
    let held = claim.clone();
    let reservation = state
        .run_write(move |conn| {
            idempotency::reserve(
                conn,
                &held,
                &request_hash,
                now,
                now + lease,
                now - RETENTION,
            )
        })
        .await;
    match reservation {
        Ok(Reservation::Reserved) => {}
        Ok(Reservation::Completed(stored)) => return Ok(replay(req, stored)),
        Ok(Reservation::InProgress { until }) => return Ok(in_progress(req, until)),
        Ok(Reservation::Mismatch) => {
            let e = ApiError::new(
                Code::IdempotencyKeyReused,
                "this Idempotency-Key was used for a different request; use a new key for a new request",
            );
            return Ok(refuse(req, e));
        }
        Err(e) => return Ok(refuse(req, e)),
    }
    crate::fault::point("idempotency:reserved").await;

    req.extensions_mut().insert(claim.clone());
    req.set_payload(actix_web::dev::Payload::from(body));
    let res = next.call(req).await?;
    if res
        .response()
        .extensions()
        .get::<AnsweredInTransaction>()
        .is_some()
    {
        return Ok(res.map_into_boxed_body());
    }
    let status = res.status();
    if status.is_server_error() {
        // If this fails too (the database is gone), the lease frees the key later.
        let _ = state
            .run_write(move |conn| idempotency::release(conn, &claim))
            .await;
        return Ok(res.map_into_boxed_body());
    }
    // An answer that wrote nothing (a refusal, or a handler that does not write): stored now.
    let headers: Vec<(String, String)> = KEPT_HEADERS
        .iter()
        .filter_map(|n| {
            res.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(|v| (n.to_string(), v.to_owned()))
        })
        .collect();
    let (http_req, http_res) = res.into_parts();
    let (http_res, body) = http_res.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("buffering a response")))?;
    let stored = StoredResponse {
        status: status.as_u16(),
        body: bytes.to_vec(),
        headers,
    };
    let now = rapport_domain::now();
    // A failure here leaves the key to the lease: nothing was written, so a retry may run again.
    let _ = state
        .run_write(move |conn| idempotency::complete(conn, &claim, &stored, now))
        .await;
    Ok(ServiceResponse::new(
        http_req,
        http_res.set_body(bytes).map_into_boxed_body(),
    ))
}
