//! `/api/v1/api-keys` (admin): create (the secret is shown once), list, get, revoke.

use actix_web::{web, HttpRequest, HttpResponse};
use rapport_domain::auth::{ApiKey, ApiKeyDraft, ParsedApiKey};
use rapport_store::api_keys::{self, NewApiKey};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{generate_api_key, scope, Auth};
use crate::error::{ApiResult, Problem};
use crate::extract::JsonBody;
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

/// Create an API key. Its secret is in this answer only, and stored nowhere: `Idempotency-Key`
/// is ignored here (a replay would need the secret kept).
#[utoipa::path(
    post, path = "/api/v1/api-keys", tag = "api-keys",
    request_body = ApiKeyDraft,
    responses(
        (status = 201, description = "Created; the secret is in the body, once", body = CreatedApiKey),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
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
                Reply::build(actix_web::http::StatusCode::CREATED)
                    .location(format!("/api/v1/api-keys/{}", created.api_key.id))
                    .json(created)
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
        (status = 400, description = "Bad query or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
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
    params(("id" = Uuid, Path, description = "Key id")),
    responses(
        (status = 200, description = "The key", body = ApiKey),
        (status = 400, description = "Bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_api_key(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let key = state.run(move |conn| api_keys::get(conn, id)).await?;
    Ok(HttpResponse::Ok().json(key))
}

/// Revoke an API key. It stops working at once on this server and within seconds on all.
#[utoipa::path(
    delete, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = Uuid, Path, description = "Key id")),
    responses(
        (status = 204, description = "Revoked: still listed and readable (`revoked_at` set), no longer accepted"),
        (status = 400, description = "Bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_api_key(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    state
        .run_write(move |conn| api_keys::revoke(conn, id, rapport_domain::now()))
        .await?;
    state.key_cache.evict_key(id);
    Ok(HttpResponse::NoContent().finish())
}
