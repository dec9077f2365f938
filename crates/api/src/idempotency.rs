//! `Idempotency-Key` on POST: a retried request (same caller, same key, same method, path and
//! body) gets the first response again, marked `Idempotent-Replayed: true`, and does nothing
//! twice. The same key with a different request is refused (422); while the first request is
//! still running, a retry gets 409. Keys are kept 24 hours, in the database, so this holds across
//! server processes. A first attempt that fails on our side (5xx) frees its key for the retry.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpResponse, ResponseError};
use rapport_store::idempotency::{self, Reservation, StoredResponse};
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::error::{ApiError, Code};
use crate::AppState;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const RETENTION: chrono::Duration = chrono::Duration::hours(24);
/// Response headers that are part of what a replay must give back.
const KEPT_HEADERS: [HeaderName; 3] = [header::LOCATION, header::ETAG, header::CONTENT_TYPE];

fn refuse(req: ServiceRequest, e: ApiError) -> ServiceResponse<BoxBody> {
    let res = e.error_response();
    req.into_response(res).map_into_boxed_body()
}

pub async fn idempotent(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(raw_key) = req.headers().get(&IDEMPOTENCY_KEY).cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if req.method() != Method::POST {
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
    let who = principal.subject.label();

    let (w, k, h) = (who.clone(), key.clone(), request_hash);
    let now = rapport_domain::now();
    let reservation = state
        .run_write(move |conn| idempotency::reserve(conn, &w, &k, &h, now, now - RETENTION))
        .await;
    let reservation = match reservation {
        Ok(r) => r,
        Err(e) => return Ok(refuse(req, e)),
    };
    match reservation {
        Reservation::Completed(stored) => {
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
            return Ok(req
                .into_response(res.body(stored.body))
                .map_into_boxed_body());
        }
        Reservation::InProgress => {
            let e = ApiError::new(
                Code::Conflict,
                "a request with this Idempotency-Key is still being processed; retry shortly",
            );
            return Ok(refuse(req, e));
        }
        Reservation::Mismatch => {
            let e = ApiError::new(
                Code::IdempotencyKeyReused,
                "this Idempotency-Key was used for a different request; use a new key for a new request",
            );
            return Ok(refuse(req, e));
        }
        Reservation::Reserved => {}
    }

    req.set_payload(actix_web::dev::Payload::from(body));
    let res = next.call(req).await?;
    let status = res.status();
    if status.is_server_error() {
        let (w, k) = (who, key);
        let _ = state
            .run_write(move |conn| idempotency::release(conn, &w, &k))
            .await;
        return Ok(res.map_into_boxed_body());
    }
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
    state
        .run_write(move |conn| idempotency::complete(conn, &who, &key, &stored, now))
        .await?;
    Ok(ServiceResponse::new(
        http_req,
        http_res.set_body(bytes).map_into_boxed_body(),
    ))
}
