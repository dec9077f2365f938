//! Loyalty: `/api/v1/loyalty/program` (versioned), and per customer the account
//! (`/customers/{id}/loyalty`) and the ledger (`/customers/{id}/loyalty/transactions`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rand::Rng;
use rapport_domain::loyalty::{
    Account, AdjustmentDraft, Entry, EntrySource, Program, ProgramDraft, Redemption,
    RedemptionDraft, RedemptionStatus, Reward, RewardDraft, SourceType,
};
use rapport_store::loyalty;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::{scope, Auth, Principal, Subject};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{
    apply_merge_patch, if_match, read_versioned, versioned, JsonBody, MergePatch,
};
use crate::idempotency::{IdempotencyKey, Reply};
use crate::routes::{page_limit, Page, PageQuery};
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/loyalty/program")
            .get(get_program)
            .put(put_program),
    )
    .service(
        web::resource("/loyalty/rewards")
            .get(list_rewards)
            .post(create_reward),
    )
    .service(
        web::resource("/loyalty/rewards/{id}")
            .get(get_reward)
            .patch(patch_reward)
            .delete(retire_reward),
    )
    .service(
        web::resource("/customers/{id}/loyalty/redemptions")
            .get(list_redemptions)
            .post(redeem),
    )
    .service(web::resource("/customers/{id}/loyalty/redemptions/{rid}").get(get_redemption))
    .service(
        web::resource("/customers/{id}/loyalty/redemptions/{rid}/cancel").post(cancel_redemption),
    )
    .service(web::resource("/customers/{id}/loyalty").get(get_account))
    .service(
        web::resource("/customers/{id}/loyalty/transactions")
            .get(list_transactions)
            .post(adjust),
    );
}

fn customer_not_found(e: ApiError) -> ApiError {
    crate::error::not_found_as("customer")(e)
}

/// Who moved points: the caller.
fn source_of(p: &Principal) -> EntrySource {
    match p.subject {
        Subject::User(id) => EntrySource {
            kind: SourceType::User,
            id: Some(id),
        },
        Subject::ApiKey(id) => EntrySource {
            kind: SourceType::ApiKey,
            id: Some(id),
        },
    }
}

/// The loyalty program in force (its latest version).
#[utoipa::path(
    get, path = "/api/v1/loyalty/program", tag = "loyalty",
    responses(
        (status = 200, description = "The program", body = Program, headers(("ETag" = String))),
        (status = 403, description = "Lacks `loyalty:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No program yet", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_program(
    _auth: Auth<scope::LoyaltyRead>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let program = state
        .run(loyalty::program)
        .await?
        .ok_or_else(|| ApiError::not_found("loyalty program"))?;
    Ok(read_versioned(&req, &program))
}

/// Replace the loyalty program: a new version, kept with the earlier ones; ledger entries name
/// the version they were written under. `If-Match` with the current ETag (`"v0"` when there is
/// none yet) refuses to overwrite someone else's change.
#[utoipa::path(
    put, path = "/api/v1/loyalty/program", tag = "loyalty",
    params(("If-Match" = Option<String>, Header, description = "The ETag of the version being replaced")),
    request_body = ProgramDraft,
    responses(
        (status = 200, description = "The new version", body = Program, headers(("ETag" = String))),
        (status = 403, description = "Lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`loyalty_program_changed`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names an older version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid program", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put_program(
    auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(draft): JsonBody<ProgramDraft>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?;
    let draft = draft.parse()?;
    let changed_by = Some(auth.principal.subject.label());
    let now = rapport_domain::now();
    let program = state
        .run_write(move |conn| loyalty::put_program(conn, &draft, expected, changed_by, now))
        .await?;
    Ok(versioned(StatusCode::OK, &program))
}

/// A customer's loyalty account: balance, tier and progress to the next, lifetime points and
/// points expiring soon, all derived from the ledger. A merged duplicate's id gives the
/// survivor's.
#[utoipa::path(
    get, path = "/api/v1/customers/{id}/loyalty", tag = "loyalty",
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The account", body = Account),
        (status = 403, description = "Lacks `loyalty:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_account(
    _auth: Auth<scope::LoyaltyRead>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = rapport_domain::now();
    let account = state
        .run(move |conn| loyalty::account(conn, id, now))
        .await
        .map_err(customer_not_found)?;
    Ok(HttpResponse::Ok().json(account))
}

/// A customer's points ledger, newest first. Entries are never changed or deleted; an entry
/// that took points lists the lots it took them from.
#[utoipa::path(
    get, path = "/api/v1/customers/{id}/loyalty/transactions", tag = "loyalty",
    params(("id" = Uuid, Path, description = "Customer id"), PageQuery),
    responses(
        (status = 200, description = "A page of entries", body = Page<Entry>),
        (status = 403, description = "Lacks `loyalty:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_transactions(
    _auth: Auth<scope::LoyaltyRead>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (limit, cursor) = query.into_inner().limit_and_cursor()?;
    let page = state
        .run(move |conn| loyalty::entries_page(conn, id, cursor.as_deref(), limit))
        .await
        .map_err(customer_not_found)?;
    Ok(HttpResponse::Ok().json(Page::from(page)))
}

/// Adjust a customer's points: a positive `points` awards a lot (expiring as the program says),
/// a negative one takes points from the lots that expire first. Taking more than the customer
/// can spend is refused with 409 and writes nothing.
#[utoipa::path(
    post, path = "/api/v1/customers/{id}/loyalty/transactions", tag = "loyalty",
    params(("id" = Uuid, Path, description = "Customer id"),
        IdempotencyKey),
    request_body = AdjustmentDraft,
    responses(
        (status = 201, description = "The `adjust` entry", body = Entry),
        (status = 403, description = "Lacks `loyalty:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`insufficient_points`, `customer_archived`, or `idempotency_in_progress`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn adjust(
    auth: Auth<scope::LoyaltyWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    JsonBody(draft): JsonBody<AdjustmentDraft>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let draft = draft.parse()?;
    let source = source_of(&auth.principal);
    let now = rapport_domain::now();
    let (entry, res) = state
        .write_reply(
            &req,
            move |conn| loyalty::adjust(conn, id, &draft, source, now),
            |entry| Reply::build(StatusCode::CREATED).json(entry),
        )
        .await
        .map_err(customer_not_found)?;
    state.metrics.loyalty_entry(&entry);
    Ok(res)
}

fn reward_not_found(e: ApiError) -> ApiError {
    crate::error::not_found_as("reward")(e)
}

/// Add a reward to the catalog.
#[utoipa::path(
    post, path = "/api/v1/loyalty/rewards", tag = "loyalty",
    params(IdempotencyKey),
    request_body = RewardDraft,
    responses(
        (status = 201, description = "Added", body = Reward, headers(("Location" = String))),
        (status = 403, description = "Lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid reward", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_reward(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(draft): JsonBody<RewardDraft>,
) -> ApiResult<HttpResponse> {
    let draft = draft.parse()?;
    let now = rapport_domain::now();
    let (_, res) = state
        .write_reply(
            &req,
            move |conn| loyalty::create_reward(conn, &draft, now),
            |reward| {
                Reply::build(StatusCode::CREATED)
                    .location(format!("/api/v1/loyalty/rewards/{}", reward.id))
                    .json(reward)
            },
        )
        .await?;
    Ok(res)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RewardsQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Also list retired rewards.
    pub include_inactive: Option<bool>,
}

/// The rewards catalog, oldest first.
#[utoipa::path(
    get, path = "/api/v1/loyalty/rewards", tag = "loyalty",
    params(RewardsQuery),
    responses(
        (status = 200, description = "A page of rewards", body = Page<Reward>),
        (status = 403, description = "Lacks `loyalty:read`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_rewards(
    _auth: Auth<scope::LoyaltyRead>,
    state: web::Data<AppState>,
    query: web::Query<RewardsQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let cursor = q.cursor.filter(|c| !c.is_empty());
    let all = q.include_inactive.unwrap_or(false);
    let page = state
        .run(move |conn| loyalty::rewards_page(conn, all, cursor.as_deref(), limit))
        .await?;
    Ok(HttpResponse::Ok().json(Page::from(page)))
}

/// A reward.
#[utoipa::path(
    get, path = "/api/v1/loyalty/rewards/{id}", tag = "loyalty",
    params(("id" = Uuid, Path, description = "Reward id")),
    responses(
        (status = 200, description = "The reward", body = Reward),
        (status = 403, description = "Lacks `loyalty:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such reward", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_reward(
    _auth: Auth<scope::LoyaltyRead>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let reward = state
        .run(move |conn| loyalty::reward(conn, id))
        .await
        .map_err(reward_not_found)?;
    Ok(read_versioned(&req, &reward))
}

/// Edit a reward with a JSON merge patch of its terms; `"active": true|false` puts it back on or
/// takes it off the catalog. Redemptions already made keep the terms they were made under.
/// `If-Match` with the ETag refuses to overwrite a change made since (redemptions that take
/// stock count as changes).
#[utoipa::path(
    patch, path = "/api/v1/loyalty/rewards/{id}", tag = "loyalty",
    params(("id" = Uuid, Path, description = "Reward id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read; 412 if it is stale")),
    request_body(content = RewardDraft, description = "JSON merge patch (RFC 7396) of the reward's terms, and optionally `active`",
        content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The edited reward", body = Reward, headers(("ETag" = String))),
        (status = 403, description = "Lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such reward", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`concurrent_update` (changed concurrently too often; retry)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid result", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn patch_reward(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    MergePatch(mut patch): MergePatch,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = if_match(&req)?;
    let active = match patch.as_object_mut().and_then(|o| o.remove("active")) {
        None => None,
        Some(serde_json::Value::Bool(b)) => Some(b),
        Some(_) => {
            return Err(rapport_domain::ValidationFailure::single(
                "active",
                "type",
                "`active` is true or false",
            )
            .into())
        }
    };
    let updated = apply_merge_patch(
        expected,
        &patch,
        || async {
            let current = state
                .run(move |conn| loyalty::reward(conn, id))
                .await
                .map_err(reward_not_found)?;
            Ok((current.terms, current.version))
        },
        |terms: RewardDraft, version| {
            let now = rapport_domain::now();
            let state = state.clone();
            async move {
                state
                    .run_write(move |conn| {
                        let current = loyalty::reward(conn, id)?;
                        let active = active.unwrap_or(current.active);
                        loyalty::update_reward(conn, id, version, &terms, active, now)
                    })
                    .await
                    .map_err(reward_not_found)
            }
        },
    )
    .await?;
    Ok(versioned(StatusCode::OK, &updated))
}

/// Retire a reward: it can no longer be redeemed; redemptions already made stay valid.
#[utoipa::path(
    delete, path = "/api/v1/loyalty/rewards/{id}", tag = "loyalty",
    params(("id" = Uuid, Path, description = "Reward id")),
    responses(
        (status = 204, description = "Retired: still readable (`active` false), no longer redeemable"),
        (status = 403, description = "Lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such reward", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retire_reward(
    _auth: Auth<scope::Admin>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    state
        .run_write(move |conn| loyalty::set_reward_active(conn, id, false, rapport_domain::now()))
        .await
        .map_err(reward_not_found)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Letters of reward codes: Crockford's base 32 (no I, L, O or U to misread).
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A reward code: 16 random characters from the OS's generator (80 bits), in groups of four.
fn reward_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let mut out = String::with_capacity(19);
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(CODE_ALPHABET[rng.gen_range(0..32)]));
    }
    out
}

/// Redeem a reward with the customer's points: takes its cost from the lots that expire first
/// and issues its codes (one per unit: two vouchers, two codes). 409 when the customer has too
/// few points or the reward is out of stock or retired; nothing is written then.
#[utoipa::path(
    post, path = "/api/v1/customers/{id}/loyalty/redemptions", tag = "loyalty",
    params(("id" = Uuid, Path, description = "Customer id"),
        IdempotencyKey),
    request_body = RedemptionDraft,
    responses(
        (status = 201, description = "Redeemed", body = Redemption, headers(("Location" = String))),
        (status = 403, description = "Lacks `loyalty:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`insufficient_points`, `reward_out_of_stock`, `reward_inactive`, `customer_archived`, or `idempotency_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or no such reward", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn redeem(
    _auth: Auth<scope::LoyaltyWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    JsonBody(draft): JsonBody<RedemptionDraft>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = rapport_domain::now();
    let (redemption, res) = state
        .write_reply(
            &req,
            move |conn| loyalty::redeem(conn, id, draft.reward_id, reward_code, now),
            |r| {
                Reply::build(StatusCode::CREATED)
                    .location(format!(
                        "/api/v1/customers/{}/loyalty/redemptions/{}",
                        r.customer_id, r.id
                    ))
                    .json(r)
            },
        )
        .await
        .map_err(customer_not_found)?;
    state
        .metrics
        .loyalty_points
        .with_label_values(&["redeem", "taken"])
        .inc_by(redemption.points.unsigned_abs());
    Ok(res)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RedemptionsQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Only redemptions in this state.
    pub status: Option<RedemptionStatus>,
}

/// The customer's redemptions, newest first, with their codes.
#[utoipa::path(
    get, path = "/api/v1/customers/{id}/loyalty/redemptions", tag = "loyalty",
    params(("id" = Uuid, Path, description = "Customer id"), RedemptionsQuery),
    responses(
        (status = 200, description = "A page of redemptions", body = Page<Redemption>),
        (status = 403, description = "Lacks `loyalty:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_redemptions(
    _auth: Auth<scope::LoyaltyRead>,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<RedemptionsQuery>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let cursor = q.cursor.filter(|c| !c.is_empty());
    let status = q.status;
    let page = state
        .run(move |conn| loyalty::redemptions_page(conn, id, status, cursor.as_deref(), limit))
        .await
        .map_err(customer_not_found)?;
    Ok(HttpResponse::Ok().json(Page::from(page)))
}

/// A redemption of the customer's.
#[utoipa::path(
    get, path = "/api/v1/customers/{id}/loyalty/redemptions/{rid}", tag = "loyalty",
    params(("id" = Uuid, Path, description = "Customer id"), ("rid" = Uuid, Path, description = "Redemption id")),
    responses(
        (status = 200, description = "The redemption", body = Redemption),
        (status = 403, description = "Lacks `loyalty:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer or redemption", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_redemption(
    _auth: Auth<scope::LoyaltyRead>,
    state: web::Data<AppState>,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (id, rid) = path.into_inner();
    let redemption = state
        .run(move |conn| loyalty::redemption(conn, id, rid))
        .await
        .map_err(crate::error::not_found_as("redemption"))?;
    Ok(HttpResponse::Ok().json(redemption))
}

/// Cancel a redemption: its points go back to the lots they came from, the stock is returned.
/// A redemption is cancelled once: again is 409.
#[utoipa::path(
    post, path = "/api/v1/customers/{id}/loyalty/redemptions/{rid}/cancel", tag = "loyalty",
    params(("id" = Uuid, Path, description = "Customer id"), ("rid" = Uuid, Path, description = "Redemption id"),
        IdempotencyKey),
    responses(
        (status = 200, description = "Cancelled", body = Redemption),
        (status = 403, description = "Lacks `loyalty:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer or redemption", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`redemption_cancelled`, or `idempotency_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was used for a different request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel_redemption(
    _auth: Auth<scope::LoyaltyWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (id, rid) = path.into_inner();
    let now = rapport_domain::now();
    let (redemption, res) = state
        .write_reply(
            &req,
            move |conn| loyalty::cancel_redemption(conn, id, rid, now),
            |r| Reply::build(StatusCode::OK).json(r),
        )
        .await
        .map_err(crate::error::not_found_as("redemption"))?;
    state
        .metrics
        .loyalty_points
        .with_label_values(&["reverse", "issued"])
        .inc_by(redemption.points.unsigned_abs());
    Ok(res)
}
