//! `/api/v1/users` (admin): staff accounts for the people signing in to the frontends.
//! Passwords are hashed with argon2 on the blocking pool; disabling a user signs them out
//! everywhere (their refresh tokens are revoked; an access token already issued lives out its
//! few minutes).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rapport_domain::auth::{ParsedUser, User, UserDraft, UserSettings};
use rapport_store::users;
use uuid::Uuid;

use crate::auth::{hash_password, scope, Auth};
use crate::error::{not_found_as, ApiError, ApiResult, Problem};
use crate::extract::{
    apply_merge_patch, if_match, read_versioned, versioned, JsonBody, MergePatch,
};
use crate::idempotency::{IdempotencyKey, Reply};
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users").get(list_users).post(create_user))
        .service(
            web::resource("/users/{id}")
                .get(get_user)
                .patch(update_user),
        );
}

/// A parsed draft as the user to store.
pub fn new_user(u: ParsedUser, now: chrono::DateTime<chrono::Utc>) -> User {
    User {
        id: rapport_domain::new_id(),
        email: u.email,
        name: u.name,
        role: u.role,
        created_at: now,
        updated_at: now,
        disabled_at: None,
        version: 1,
    }
}

/// Create a staff user.
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users",
    params(IdempotencyKey),
    request_body = UserDraft,
    responses(
        (status = 201, description = "Created", body = User, headers(("ETag" = String), ("Location" = String))),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`duplicate_email`, or `idempotency_in_progress` (the same Idempotency-Key is still running)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_user(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(draft): JsonBody<UserDraft>,
) -> ApiResult<HttpResponse> {
    let user = draft.parse()?;
    let password = user.password.clone();
    let hash = web::block(move || hash_password(&password))
        .await?
        .map_err(ApiError::Internal)?;
    let user = new_user(user, rapport_domain::now());
    let (_, res) = state
        .write_reply(
            &req,
            move |conn| users::insert(conn, &user, &hash).map(|()| user),
            |user| {
                Reply::build(StatusCode::CREATED)
                    .location(format!("/api/v1/users/{}", user.id))
                    .versioned(user)
            },
        )
        .await?;
    Ok(res)
}

/// List staff users.
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users",
    params(crate::routes::PageQuery),
    responses(
        (status = 200, description = "A page of users, by e-mail", body = crate::routes::Page<User>),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_users(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    query: web::Query<crate::routes::PageQuery>,
) -> ApiResult<HttpResponse> {
    let (limit, cursor) = query.into_inner().limit_and_cursor()?;
    let page = state
        .run(move |conn| users::page(conn, cursor.as_deref(), limit))
        .await?;
    Ok(HttpResponse::Ok().json(crate::routes::Page::from(page)))
}

/// Get a staff user.
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users",
    params(
        ("id" = Uuid, Path, description = "User id"),
        ("If-None-Match" = Option<String>, Header, description = "ETag from a previous read; 304 if it is current"),
    ),
    responses(
        (status = 200, description = "The user", body = User, headers(("ETag" = String))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_user(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let user = state
        .run(move |conn| users::get(conn, id))
        .await
        .map_err(not_found_as("user"))?;
    Ok(read_versioned(&req, &user))
}

/// Change a staff user's name or role, or disable / enable the account, with a JSON merge patch
/// (RFC 7396) of the user's settings. Disabling signs the user out everywhere (their refresh
/// tokens are revoked). `If-Match` guards against lost updates.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users",
    params(
        ("id" = Uuid, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read; 412 if it is stale"),
    ),
    request_body(content = UserSettings, content_type = "application/merge-patch+json",
        description = "Settings to change; absent ones stay as they are"),
    responses(
        (status = 200, description = "The changed user", body = User, headers(("ETag" = String))),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`concurrent_update`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid result", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_user(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    MergePatch(patch): MergePatch,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = if_match(&req)?;
    let user = apply_merge_patch(
        expected,
        &patch,
        || async {
            let user = state
                .run(move |conn| users::get(conn, id))
                .await
                .map_err(not_found_as("user"))?;
            Ok((user.settings(), user.version))
        },
        |settings: UserSettings, version| {
            let state = state.clone();
            let now = rapport_domain::now();
            async move {
                state
                    .run_write(move |conn| users::update(conn, id, version, &settings, now))
                    .await
                    .map_err(not_found_as("user"))
            }
        },
    )
    .await?;
    Ok(versioned(StatusCode::OK, &user))
}
