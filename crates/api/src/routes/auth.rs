//! `/api/v1/auth`: staff sign-in. `token` exchanges a password or a refresh token for a
//! short-lived access token (JWT) and a new refresh token; refresh tokens rotate on every use,
//! and replaying a used one revokes its whole family (it was probably stolen).

use actix_web::{web, HttpResponse};
use chrono::Utc;
use rapport_store::users::{self, RefreshToken};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{
    hash_secret, issue_access_token, random_token, verify_password, Principal, Subject,
};
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::JsonBody;
use crate::idempotency::IdempotencyKey;
use crate::AppState;

pub fn configure_public(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/auth/token").post(issue_token));
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/revoke").post(revoke_token))
        .service(web::resource("/auth/me").get(who_am_i));
}

/// Either a password sign-in or a refresh.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
pub enum TokenRequest {
    Password { email: String, password: String },
    RefreshToken { refresh_token: String },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single use: each refresh returns a new one.
    pub refresh_token: String,
    /// Space-separated scopes the access token carries.
    pub scope: String,
}

/// Sign in (password) or refresh (refresh token). Needs no credential.
#[utoipa::path(
    post, path = "/api/v1/auth/token", tag = "auth", security(()),
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 401, description = "Wrong e-mail, password or refresh token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn issue_token(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<TokenRequest>,
) -> ApiResult<HttpResponse> {
    let refused = || {
        ApiError::new(
            Code::Unauthorized,
            "wrong e-mail, password or refresh token",
        )
    };
    let (user, family) = match body {
        TokenRequest::Password { email, password } => {
            let email = email.trim().to_lowercase();
            let found = state
                .run(move |conn| users::find_by_email(conn, &email))
                .await?;
            // Verify on the blocking pool: argon2 takes tens of milliseconds by design.
            let ok = web::block(move || match found {
                Some((user, hash))
                    if user.disabled_at.is_none() && verify_password(&password, &hash) =>
                {
                    Some(user)
                }
                Some(_) => None,
                None => {
                    // Same work for unknown e-mails, so timing does not reveal which exist.
                    let _ = verify_password(&password, crate::auth::dummy_hash());
                    None
                }
            })
            .await?;
            (ok.ok_or_else(refused)?, Uuid::now_v7())
        }
        TokenRequest::RefreshToken { refresh_token } => {
            let hash = hash_secret(&refresh_token);
            let now = rapport_domain::now();
            let user = state
                .run_write(move |conn| {
                    let Some(token) = users::find_refresh_token(conn, &hash)? else {
                        return Ok(None);
                    };
                    if token.revoked_at.is_some() || token.expires_at <= now {
                        return Ok(None);
                    }
                    if !users::mark_refresh_token_used(conn, token.id, now)? {
                        // Replay of a used token: revoke the family.
                        users::revoke_refresh_family(conn, token.family_id, now)?;
                        return Ok(None);
                    }
                    let user = users::get(conn, token.user_id)?;
                    Ok(Some((user, token.family_id)))
                })
                .await?;
            match user {
                Some((u, family)) if u.disabled_at.is_none() => (u, family),
                _ => return Err(refused()),
            }
        }
    };

    let access_token =
        issue_access_token(&state.jwt, user.id, user.role).map_err(ApiError::Internal)?;
    let refresh_token = random_token();
    let token = RefreshToken {
        id: Uuid::now_v7(),
        user_id: user.id,
        family_id: family,
        expires_at: Utc::now() + state.jwt.refresh_ttl,
        used_at: None,
        revoked_at: None,
    };
    let hash = hash_secret(&refresh_token);
    state
        .run_write(move |conn| {
            users::insert_refresh_token(conn, &token, &hash, rapport_domain::now())
        })
        .await?;
    state.metrics.tokens_issued.inc();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: state.jwt.access_ttl.as_secs(),
            refresh_token,
            scope: user.role.scopes().to_list(),
        }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    pub refresh_token: String,
}

/// Sign out: revoke a refresh token and every token rotated from it.
#[utoipa::path(
    post, path = "/api/v1/auth/revoke", tag = "auth",
    params(IdempotencyKey),
    request_body = RevokeRequest,
    responses(
        (status = 204, description = "Revoked (or already unknown)"),
    )
)]
pub async fn revoke_token(
    state: web::Data<AppState>,
    principal: web::ReqData<Principal>,
    JsonBody(body): JsonBody<RevokeRequest>,
) -> ApiResult<HttpResponse> {
    let hash = hash_secret(&body.refresh_token);
    let caller = principal.subject;
    state
        .run_write(move |conn| {
            if let Some(token) = users::find_refresh_token(conn, &hash)? {
                // Users may revoke only their own tokens; admins (API keys or users) any.
                let own = caller == Subject::User(token.user_id);
                if own || principal.scopes.allows(rapport_domain::auth::Scope::Admin) {
                    users::revoke_refresh_family(conn, token.family_id, rapport_domain::now())?;
                }
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller: which credential, its scopes, and the user or key behind it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `user:<id>` or `api_key:<id>`.
    pub subject: String,
    pub scopes: Vec<rapport_domain::auth::Scope>,
    /// Set when signed in as a staff user.
    pub user: Option<rapport_domain::auth::User>,
    /// Set when calling with an API key.
    pub api_key: Option<rapport_domain::auth::ApiKey>,
}

/// Who am I: for frontends to show the signed-in user and hide what their scopes forbid.
#[utoipa::path(
    get, path = "/api/v1/auth/me", tag = "auth",
    responses(
        (status = 200, description = "The caller", body = Me),
    )
)]
pub async fn who_am_i(
    state: web::Data<AppState>,
    principal: web::ReqData<Principal>,
) -> ApiResult<HttpResponse> {
    let principal = principal.into_inner();
    let subject = principal.subject;
    let (user, api_key) = state
        .run(move |conn| match subject {
            Subject::User(id) => Ok((Some(users::get(conn, id)?), None)),
            Subject::ApiKey(id) => Ok((None, Some(rapport_store::api_keys::get(conn, id)?))),
        })
        .await?;
    Ok(HttpResponse::Ok().json(Me {
        subject: subject.label(),
        scopes: principal.scopes.as_slice().to_vec(),
        user,
        api_key,
    }))
}
