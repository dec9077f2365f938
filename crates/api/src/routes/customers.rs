//! `/api/v1/customers`: create, read, list (filters, keyset pages), merge-patch, archive.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use rapport_domain::customer::CustomerSort;
use rapport_domain::customer::{Customer, CustomerDraft, LifecycleStage};
use rapport_store::customers::{self, CustomerFilter};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::{scope, Auth};
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::{
    apply_merge_patch, if_match, read_versioned, versioned, JsonBody, MergePatch,
};
use crate::idempotency::{IdempotencyKey, Reply};
use crate::routes::{page_limit, Page};
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/customers")
            .get(list_customers)
            .post(create_customer),
    )
    .service(web::resource("/customers/{id}/restore").post(restore_customer))
    .service(
        web::resource("/customers/{id}")
            .get(get_customer)
            .patch(patch_customer)
            .delete(delete_customer),
    );
}

/// Create a customer.
#[utoipa::path(
    post, path = "/api/v1/customers", tag = "customers",
    params(IdempotencyKey),
    request_body = CustomerDraft,
    responses(
        (status = 201, description = "Created (or the replay of the first response to this Idempotency-Key)", body = Customer,
            headers(("ETag" = String), ("Location" = String), ("Idempotent-Replayed" = Option<String>))),
        (status = 409, description = "`duplicate_external_ref`, or `idempotency_in_progress` (a request with this Idempotency-Key is still running)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks `customers:write`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_customer(
    _auth: Auth<scope::CustomersWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(draft): JsonBody<CustomerDraft>,
) -> ApiResult<HttpResponse> {
    let draft = draft.parse()?;
    let now = rapport_domain::now();
    let (_, res) = state
        .write_reply(
            &req,
            move |conn| customers::insert(conn, &draft, now),
            |c| {
                Reply::build(StatusCode::CREATED)
                    .location(format!("/api/v1/customers/{}", c.id))
                    .versioned(c)
            },
        )
        .await?;
    state.metrics.customers_created.inc();
    Ok(res)
}

/// Get a customer (archived ones too, with `archived_at` set). The id of a duplicate merged into
/// another customer gives the survivor.
#[utoipa::path(
    get, path = "/api/v1/customers/{id}", tag = "customers",
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The customer", body = Customer, headers(("ETag" = String))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 403, description = "Lacks `customers:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_customer(
    _auth: Auth<scope::CustomersRead>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    // A merged duplicate's id finds the survivor.
    let customer = state
        .run(move |conn| customers::get_record(conn, id))
        .await
        .map_err(not_found)?;
    Ok(read_versioned(&req, &customer))
}

fn not_found(e: ApiError) -> ApiError {
    crate::error::not_found_as("customer")(e)
}

/// Query parameters of the customer list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListCustomersQuery {
    /// Case-insensitive text contained in the name or e-mail.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// Exact e-mail (case-insensitive); a merged duplicate's e-mail finds the survivor.
    pub email: Option<String>,
    /// The customer with this reference in another system.
    pub external_ref: Option<String>,
    /// Customers carrying this tag; repeated (`tag=vip&tag=b2b`), any of them.
    #[serde(default)]
    pub tag: Vec<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2; repeated, any of them.
    #[serde(default)]
    pub country: Vec<String>,
    pub lifecycle_stage: Option<LifecycleStage>,
    /// Created strictly after this instant (RFC 3339).
    pub created_after: Option<DateTime<Utc>>,
    /// Created strictly before this instant (RFC 3339).
    pub created_before: Option<DateTime<Utc>>,
    /// Include archived customers (default false).
    pub include_archived: Option<bool>,
    /// Order: `-created_at` (default, newest first), `created_at`, `-updated_at`, `updated_at`.
    pub sort: Option<CustomerSort>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// List customers, newest first by default, with keyset pagination.
#[utoipa::path(
    get, path = "/api/v1/customers", tag = "customers",
    params(ListCustomersQuery),
    responses(
        (status = 200, description = "A page of customers", body = Page<Customer>),
        (status = 403, description = "Lacks `customers:read`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_customers(
    _auth: Auth<scope::CustomersRead>,
    state: web::Data<AppState>,
    query: crate::extract::Query<ListCustomersQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let bad = |m: String| ApiError::new(Code::InvalidQuery, m);
    let limit = page_limit(q.limit)?;
    let sort = q.sort.unwrap_or_default();
    if q.q.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return Err(bad("q must be at most 100 characters".into()));
    }
    // An empty parameter (`?city=`) filters nothing, as browsers' forms send it.
    let given = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let all_given = |v: Vec<String>| -> Vec<String> {
        v.into_iter().filter(|s| !s.trim().is_empty()).collect()
    };
    let filter = CustomerFilter {
        q: given(q.q),
        email: given(q.email),
        external_ref: given(q.external_ref),
        tags: all_given(q.tag),
        city: given(q.city),
        countries: all_given(q.country),
        lifecycle_stage: q.lifecycle_stage,
        created_after: q.created_after,
        created_before: q.created_before,
        include_archived: q.include_archived.unwrap_or(false),
    };
    let cursor = given(q.cursor);
    let page = state
        .run(move |conn| customers::list(conn, &filter, sort, cursor.as_deref(), limit))
        .await?;
    // Serialised into a buffer sized for the page up front (a customer is under 1 KiB of JSON
    // as a rule), rather than one grown by doubling.
    let mut body = Vec::with_capacity(64 + page.items.len() * 1024);
    serde_json::to_writer(
        &mut body,
        &Page {
            data: page.items,
            next_cursor: page.next_cursor,
        },
    )
    .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// Change a customer with a JSON merge patch (RFC 7396). `If-Match` guards against lost updates.
#[utoipa::path(
    patch, path = "/api/v1/customers/{id}", tag = "customers",
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read; 412 if it is stale"),
    ),
    request_body(content = CustomerDraft, content_type = "application/merge-patch+json",
        description = "Fields to change; `null` removes a field"),
    responses(
        (status = 200, description = "The changed customer", body = Customer, headers(("ETag" = String))),
        (status = 403, description = "Lacks `customers:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`customer_archived`, `duplicate_external_ref`, `concurrent_update`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid result", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn patch_customer(
    _auth: Auth<scope::CustomersWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    MergePatch(patch): MergePatch,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = if_match(&req)?;
    let updated = apply_merge_patch(
        expected,
        &patch,
        || async {
            let current = state
                .run(move |conn| customers::get(conn, id))
                .await
                .map_err(not_found)?;
            if current.archived_at.is_some() {
                return Err(ApiError::Conflict(
                    rapport_domain::conflict::Conflict::CustomerArchived,
                ));
            }
            Ok((current.draft, current.version))
        },
        |draft: CustomerDraft, version| {
            let now = rapport_domain::now();
            let state = state.clone();
            async move {
                state
                    .run_write(move |conn| customers::update(conn, id, version, &draft, now))
                    .await
                    .map_err(not_found)
            }
        },
    )
    .await?;
    Ok(versioned(StatusCode::OK, &updated))
}

/// Archive (delete) a customer. It disappears from lists but can still be read by id.
#[utoipa::path(
    delete, path = "/api/v1/customers/{id}", tag = "customers",
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read; 412 if it is stale"),
    ),
    responses(
        (status = 204, description = "Archived: still readable by id (`archived_at` set) and restorable, left out of lists, and takes no more changes"),
        (status = 403, description = "Lacks `customers:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such (live) customer", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_customer(
    _auth: Auth<scope::CustomersWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = if_match(&req)?;
    let now = rapport_domain::now();
    state
        .run_write(move |conn| customers::archive(conn, id, expected, now))
        .await
        .map_err(not_found)?;
    state.metrics.customers_archived.inc();
    Ok(HttpResponse::NoContent().finish())
}

/// Restore an archived customer: it takes changes and new history again.
#[utoipa::path(
    post, path = "/api/v1/customers/{id}/restore", tag = "customers",
    params(
        ("id" = Uuid, Path, description = "Customer id"),
        ("If-Match" = Option<String>, Header, description = "ETag from a previous read; 412 if it is stale"),
        IdempotencyKey,
    ),
    responses(
        (status = 200, description = "Restored", body = Customer, headers(("ETag" = String))),
        (status = 403, description = "Lacks `customers:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such archived customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn restore_customer(
    _auth: Auth<scope::CustomersWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let expected = if_match(&req)?;
    let now = rapport_domain::now();
    let (_, res) = state
        .write_reply(
            &req,
            move |conn| customers::restore(conn, id, expected, now),
            |c| Reply::build(StatusCode::OK).versioned(c),
        )
        .await
        .map_err(|e| crate::error::not_found_as("archived customer")(e))?;
    Ok(res)
}
