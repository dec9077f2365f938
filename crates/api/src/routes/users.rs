//! `/api/v1/users` (admin): staff accounts for the people signing in to the frontends.
//! Passwords are hashed with argon2 on the blocking pool; disabling a user signs them out
//! everywhere (their refresh tokens are revoked; an access token already issued lives out its
//! few minutes).

use actix_web::{web, HttpRequest, HttpResponse};
use rapport_domain::auth::{ParsedUser, Role, User, UserDraft};
use rapport_store::users::{self, UserChanges};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{hash_password, scope, Auth};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::JsonBody;
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

/// Changes to a staff user; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    pub role: Option<Role>,
    /// `true` disables the account and revokes its refresh tokens; `false` enables it.
    pub disabled: Option<bool>,
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
    }
}

/// Create a staff user.
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users",
    params(IdempotencyKey),
    request_body = UserDraft,
    responses(
        (status = 201, description = "Created", body = User),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`duplicate_email`, or `idempotency_in_progress` (the same Idempotency-Key is still running)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
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
                Reply::build(actix_web::http::StatusCode::CREATED)
                    .location(format!("/api/v1/users/{}", user.id))
                    .json(user)
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
        (status = 400, description = "Bad query or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
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
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 400, description = "Bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_user(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    Ok(HttpResponse::Ok().json(state.run(move |conn| users::get(conn, id)).await?))
}

/// Change a staff user's name or role, or disable / enable the account.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    request_body = UpdateUser,
    responses(
        (status = 200, description = "The changed user", body = User),
        (status = 400, description = "Malformed JSON or bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_user(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    JsonBody(body): JsonBody<UpdateUser>,
) -> ApiResult<HttpResponse> {
    let mut errors = Vec::new();
    if let Some(name) = &body.name {
        rapport_domain::auth::check_user_name(name, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let id = id.into_inner();
    let changes = UserChanges {
        name: body.name.map(|n| n.trim().to_owned()),
        role: body.role,
        disabled: body.disabled,
    };
    let now = rapport_domain::now();
    let user = state
        .run_write(move |conn| users::update(conn, id, &changes, now))
        .await?;
    Ok(HttpResponse::Ok().json(user))
}
