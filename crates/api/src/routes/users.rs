//! `/api/v1/users` (admin): staff accounts for the people signing in to the frontends.
//! Passwords are hashed with argon2 on the blocking pool; disabling a user signs them out
//! everywhere (their refresh tokens are revoked; an access token already issued lives out its
//! few minutes).

use actix_web::{web, HttpRequest, HttpResponse};
use rapport_domain::auth::{Role, User};
use rapport_domain::FieldError;
use rapport_store::users::{self, UserChanges};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{hash_password, scope, Auth};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::JsonBody;
use crate::idempotency::Reply;
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users").get(list_users).post(create_user))
        .service(
            web::resource("/users/{id}")
                .get(get_user)
                .patch(update_user),
        );
}

/// A new staff user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    pub role: Role,
    /// 12 to 256 characters. Stored as an argon2 hash only.
    #[schema(min_length = 12, max_length = 256, format = Password)]
    pub password: String,
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

fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    if name.trim().is_empty() || name.chars().count() > 100 {
        errors.push(FieldError {
            field: "name".into(),
            code: "length".into(),
            message: "must be 1 to 100 characters".into(),
        });
    }
}

/// Create a staff user.
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes a retry safe: the same key with the same request replays the first response (24 h)")),
    request_body = CreateUser,
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
    JsonBody(body): JsonBody<CreateUser>,
) -> ApiResult<HttpResponse> {
    use validator::ValidateEmail;
    let email = body.email.trim().to_lowercase();
    let mut errors = Vec::new();
    if !email.validate_email() || email.len() > 254 {
        errors.push(FieldError {
            field: "email".into(),
            code: "email".into(),
            message: "must be a valid e-mail address".into(),
        });
    }
    check_name(&body.name, &mut errors);
    let password_len = body.password.chars().count();
    if !(12..=256).contains(&password_len) {
        errors.push(FieldError {
            field: "password".into(),
            code: "length".into(),
            message: "must be 12 to 256 characters".into(),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let password = body.password;
    let hash = web::block(move || hash_password(&password))
        .await?
        .map_err(ApiError::Internal)?;
    let now = rapport_domain::now();
    let user = User {
        id: rapport_domain::new_id(),
        email,
        name: body.name.trim().to_owned(),
        role: body.role,
        created_at: now,
        updated_at: now,
        disabled_at: None,
    };
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
    responses(
        (status = 200, description = "Users, by e-mail", body = Vec<User>),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not admin", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_users(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(state.run(users::list).await?))
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
        check_name(name, &mut errors);
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
