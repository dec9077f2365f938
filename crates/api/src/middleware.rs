//! Request plumbing around every handler: request id, tracing span, metrics, panic safety, and
//! the problem+json rewrite of errors actix produces itself.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{web, Error, HttpMessage};
use futures_util::FutureExt;
use tracing::Instrument;

use crate::error::{problem, problem_response, ApiError, Code, PROBLEM_JSON};
use crate::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id: the caller's `X-Request-Id` when it is sane, else a new UUIDv7.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// Outermost middleware: id, span, timing, metrics, panics → 500 problem.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    // Request-scoped debug logs carry the id through this span. It is at debug level because an
    // enabled span on every request cost read throughput (measured: see docs/benchmarks.md); the
    // lines logged at info and above (below) name the request id themselves.
    let span = tracing::debug_span!("request", request_id = %id);

    // Routing needs the only reference to the request, so it cannot be kept here for a panic
    // response; an `Err` makes actix render the problem through `ApiError::error_response`.
    let outcome = AssertUnwindSafe(next.call(req))
        .catch_unwind()
        .instrument(span.clone())
        .await;
    let mut res = match outcome {
        Ok(Ok(res)) => res.map_into_boxed_body(),
        Ok(Err(e)) => {
            tracing::error!(request_id = %id, %method, %path, error = %e, "request failed");
            return Err(e);
        }
        Err(_) => {
            tracing::error!(request_id = %id, %method, %path, "handler panicked");
            return Err(ApiError::Internal(anyhow::anyhow!("handler panicked")).into());
        }
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }

    let status = res.status();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let elapsed = started.elapsed();
    if let Some(state) = state {
        let labels = [method.as_str(), route.as_str(), status.as_str()];
        state.metrics.requests.with_label_values(&labels).inc();
        state
            .metrics
            .latency
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }
    // The access line: successes at debug (`RUST_LOG=rapport_api=debug` shows every request),
    // client errors at info, server errors at error with their cause, slow requests at warn.
    let latency_us = elapsed.as_micros() as u64;
    let code = status.as_u16();
    if let Some(cause) = res
        .response()
        .extensions()
        .get::<crate::error::ErrorCause>()
    {
        tracing::error!(request_id = %id, %method, %path, status = code, route = %route, latency_us, cause = %cause.0, "request failed");
    } else if elapsed.as_secs() >= 1 {
        tracing::warn!(request_id = %id, %method, %path, status = code, route = %route, latency_us, "slow request");
    } else if status.is_client_error() {
        tracing::info!(request_id = %id, %method, %path, status = code, route = %route, latency_us, "request refused");
    } else {
        tracing::debug!(request_id = %id, %method, %path, status = code, route = %route, latency_us, "request done");
    }
    Ok(res)
}

/// Requires a valid credential for everything it wraps.
pub async fn require_auth(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody, impl MessageBody>>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        let p = problem(Code::Internal, "application state missing", None);
        return Ok(req.into_response(problem_response(&p)).map_into_left_body());
    };
    // PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
    if crate::nul::has_nul_escape(req.query_string().as_bytes(), b"%00") {
        let p = problem(
            Code::InvalidQuery,
            "query parameters must not contain NUL characters",
            None,
        );
        return Ok(req.into_response(problem_response(&p)).map_into_left_body());
    }
    match crate::auth::authenticate(req.request(), &state).await {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            Ok(next.call(req).await?.map_into_right_body())
        }
        Err(e) => {
            state.metrics.auth_failures.inc();
            let res = actix_web::ResponseError::error_response(&e);
            Ok(req.into_response(res).map_into_left_body())
        }
    }
}

/// Turns any error response that is not already problem+json (actix's own 404, 405, 413…)
/// into one, keeping the status.
pub fn problemize<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = Code::for_status(status);
    let detail = match code {
        Code::NotFound => "no such resource or route".to_owned(),
        Code::MethodNotAllowed => {
            format!("{} is not supported on this route", res.request().method())
        }
        Code::PayloadTooLarge => "the request body is larger than allowed".to_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let mut p = problem(code, detail, None);
    p.status = status.as_u16();
    let (req, old) = res.into_parts();
    let mut new = problem_response(&p);
    // Keep headers actix set on purpose (Allow on 405).
    if let Some(allow) = old.headers().get(header::ALLOW) {
        new.headers_mut().insert(header::ALLOW, allow.clone());
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}
