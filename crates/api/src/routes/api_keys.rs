//! `/api/v1/api-keys` (admin): create (the secret is shown once), list, get, revoke.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rapport_domain::auth::{ApiKey, ApiKeyDraft, ApiKeySettings, ParsedApiKey};
use rapport_store::api_keys::{self, NewApiKey};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{generate_api_key, scope, Auth};
use crate::error::{not_found_as, ApiError, ApiResult, Problem};
use crate::extract::{
    apply_merge_patch, if_match, read_versioned, versioned, JsonBody, MergePatch, Versioned,
};
use crate::idempotency::Reply;
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api-keys")
            .get(list_api_keys)
            .post(create_api_key),
    )
    .service(
        web::resource("/api-keys/{id}")
            .get(get_api_key)
            .patch(update_api_key)
            .delete(revoke_api_key),
    );
}

/// A created key with its secret. The secret is shown only here, once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The key itself (`rk_…`): store it now, it cannot be shown again.
    pub secret: String,
}

impl Versioned for CreatedApiKey {
    fn version(&self) -> i64 {
        self.api_key.version
    }
}

/// Create an API key. Its secret is in this answer only, and stored nowhere: `Idempotency-Key`
/// is ignored here (a replay would need the secret kept).
#[utoipa::path(
    post, path = "/api/v1/api-keys", tag = "api-keys",
    request_body = ApiKeyDraft,
    responses(
        (status = 201, description = "Created; the secret is in the body, once", body = CreatedApiKey, headers(("ETag" = String), ("Location" = String))),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_api_key(
    auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(draft): JsonBody<ApiKeyDraft>,
) -> ApiResult<HttpResponse> {
    let key = draft.parse(rapport_domain::now())?;
    let created_by = auth.principal.subject.label();
    let (_, res) = state
        .write_reply(
            &req,
            move |conn| {
                let (api_key, secret) = create(conn, &key, Some(&created_by))?;
                Ok(CreatedApiKey { api_key, secret })
            },
            |created| {
                Reply::build(StatusCode::CREATED)
                    .location(format!("/api/v1/api-keys/{}", created.api_key.id))
                    .versioned(created)
            },
        )
        .await?;
    Ok(res)
}

/// Makes and stores a key; returns it with its secret. Shared with the CLI.
pub fn create(
    conn: &mut rapport_store::DbConn,
    key: &ParsedApiKey,
    created_by: Option<&str>,
) -> Result<(ApiKey, String), rapport_store::StoreError> {
    let made = generate_api_key();
    let key = api_keys::insert(
        conn,
        &NewApiKey {
            id: rapport_domain::new_id(),
            name: &key.name,
            prefix: &made.prefix,
            key_hash: &made.hash,
            scopes: &key.scopes,
            created_by,
            created_at: rapport_domain::now(),
            expires_at: key.expires_at,
        },
    )?;
    Ok((key, made.secret))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListApiKeysQuery {
    /// Include revoked keys (default false).
    pub include_revoked: Option<bool>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// List API keys (never their secrets).
#[utoipa::path(
    get, path = "/api/v1/api-keys", tag = "api-keys",
    params(ListApiKeysQuery),
    responses(
        (status = 200, description = "A page of keys, oldest first", body = crate::routes::Page<ApiKey>),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_api_keys(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    query: web::Query<ListApiKeysQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let include = q.include_revoked.unwrap_or(false);
    let (limit, cursor) = crate::routes::PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .limit_and_cursor()?;
    let page = state
        .run(move |conn| api_keys::page(conn, include, cursor.as_deref(), limit))
        .await?;
    Ok(HttpResponse::Ok().json(crate::routes::Page::from(page)))
}

/// Get one API key.
#[utoipa::path(
    get, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    params(
        ("id" = Uuid, Path, description = "Key id"),
        ("If-None-Match" = Option<String>, Header, description = "ETag from a previous read; 304 if it is current"),
    ),
    responses(
        (status = 200, description = "The key", body = ApiKey, headers(("ETag" = String))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_api_key(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let key = state
        .run(move |conn| api_keys::get(conn, id))
        .await
        .map_err(not_found_as("API key"))?;
    Ok(read_versioned(&req, &key))
}

/// Rename an API key, change its scopes or its expiry, with a JSON merge patch (RFC 7396) of its
/// settings. New scopes take effect at once on this server and within seconds on all (as a
/// revocation does); the secret stays the same. A revoked key takes no changes.
#[utoipa::path(
    patch, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    params(
        ("id" = Uuid, Path, description = "Key id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read; 412 if it is stale"),
    ),
    request_body(content = ApiKeySettings, content_type = "application/merge-patch+json",
        description = "Settings to change; absent ones stay as they are, `\"expires_at\": null` removes the expiry"),
    responses(
        (status = 200, description = "The changed key", body = ApiKey, headers(("ETag" = String))),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`api_key_revoked`, `concurrent_update`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid result (a name of 1 to 100 characters, at least one scope, an expiry in the future)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_api_key(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    MergePatch(patch): MergePatch,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = if_match(&req)?;
    let now = rapport_domain::now();
    let key = apply_merge_patch(
        expected,
        &patch,
        || async {
            let key = state
                .run(move |conn| api_keys::get(conn, id))
                .await
                .map_err(not_found_as("API key"))?;
            Ok((key.settings(), key.version))
        },
        |settings: ApiKeySettings, version| {
            let state = state.clone();
            let new_expiry = patch.get("expires_at").is_some_and(|v| !v.is_null());
            async move {
                // Only an expiry this patch sets must lie ahead: an expired key can still be
                // renamed, and its expiry removed or moved forward.
                if new_expiry {
                    let mut errors = Vec::new();
                    rapport_domain::auth::check_key_expiry(settings.expires_at, now, &mut errors);
                    if !errors.is_empty() {
                        return Err(ApiError::Validation(errors));
                    }
                }
                state
                    .run_write(move |conn| api_keys::update(conn, id, version, &settings))
                    .await
                    .map_err(not_found_as("API key"))
            }
        },
    )
    .await?;
    state.key_cache.evict_key(id);
    Ok(versioned(StatusCode::OK, &key))
}

/// Revoke an API key. It stops working at once on this server and within seconds on all.
#[utoipa::path(
    delete, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    params(
        ("id" = Uuid, Path, description = "Key id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read; 412 if it is stale"),
    ),
    responses(
        (status = 204, description = "Revoked: still listed (with `include_revoked`) and readable, with `revoked_at` set, and no longer accepted. Revoking a revoked key changes nothing."),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_api_key(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = if_match(&req)?;
    state
        .run_write(move |conn| api_keys::revoke(conn, id, expected, rapport_domain::now()))
        .await
        .map_err(not_found_as("API key"))?;
    state.key_cache.evict_key(id);
    Ok(HttpResponse::NoContent().finish())
}
