//! Bulk import (`POST /customers/import`, `POST /interactions/import`) and export
//! (`GET /customers/export`, `GET /interactions/export`), streamed both ways: see
//! [`crate::transfer`] for the formats and the rules.

use std::io::{Seek, Write};

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use rapport_domain::customer::CustomerSort;
use rapport_store::customers::{self, CustomerFilter};
use rapport_store::interactions::{self, TimeOrder};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{scope, Auth};
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::routes::interactions::{agent_of, InteractionSort, ListInteractionsQuery};
use crate::transfer::{self, ExportWriter, Format, ImportMode, ImportReport};
use crate::AppState;

/// Records per page read for an export.
const EXPORT_PAGE: i64 = 1_000;

/// Registered before `/customers/{id}`, whose pattern would take `import` and `export` as ids.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/customers/import").post(import_customers))
        .service(web::resource("/customers/export").get(export_customers))
        .service(web::resource("/interactions/import").post(import_interactions))
        .service(web::resource("/interactions/export").get(export_interactions));
}

/// Query of an import.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `all_or_nothing` (default): write nothing if any row is invalid. `skip_invalid`: write
    /// the valid rows.
    pub mode: Option<ImportMode>,
}

fn import_format(req: &HttpRequest) -> ApiResult<Format> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Format::from_media_type)
        .ok_or_else(|| {
            ApiError::new(
                Code::UnsupportedMediaType,
                "send text/csv or application/x-ndjson",
            )
        })
}

/// Receives an import's body into an anonymous temporary file, chunk by chunk as it arrives,
/// before anything is written to the database: a slow upload holds no transaction (and on
/// SQLite not the single writer that every other write waits for). Bounded by
/// [`ApiConfig::import_max_bytes`](crate::ApiConfig) (413) and by
/// [`ApiConfig::import_body_timeout`](crate::ApiConfig), the longest wait for the next chunk (408).
async fn spool(state: &AppState, mut payload: web::Payload) -> ApiResult<std::fs::File> {
    let max = state.config.import_max_bytes;
    let wait = state.config.import_body_timeout;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    // The file is written on a blocking thread; the connection is read here.
    let writer = web::block(move || -> std::io::Result<std::fs::File> {
        let mut file = tempfile::tempfile()?;
        {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, &mut file);
            while let Some(chunk) = rx.blocking_recv() {
                out.write_all(&chunk)?;
            }
            out.flush()?;
        }
        file.seek(std::io::SeekFrom::Start(0))?;
        Ok(file)
    });
    let receive = async move {
        let mut received: u64 = 0;
        loop {
            let chunk = match tokio::time::timeout(wait, payload.next()).await {
                Err(_) => {
                    return Err(ApiError::new(
                        Code::RequestTimeout,
                        format!(
                            "no part of the body arrived for {} s; send the file again",
                            wait.as_secs()
                        ),
                    ))
                }
                Ok(None) => return Ok(()),
                Ok(Some(Err(_))) => {
                    return Err(ApiError::new(
                        Code::BadRequest,
                        "the request body could not be read",
                    ))
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            received += chunk.len() as u64;
            if received > max {
                return Err(ApiError::new(
                    Code::PayloadTooLarge,
                    format!("an import must be at most {max} bytes"),
                ));
            }
            if tx.send(chunk).await.is_err() {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "the spooling thread stopped"
                )));
            }
        }
    };
    let (received, written) = futures_util::join!(receive, writer);
    received?;
    written?.map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("spooling an import")))
}

/// Receives the whole body, then runs `work` on it as one write; returns the report, whose
/// created rows `counter` counts.
async fn run_import<F>(
    state: &web::Data<AppState>,
    payload: web::Payload,
    format: Format,
    counter: &prometheus::IntCounter,
    work: F,
) -> ApiResult<HttpResponse>
where
    F: FnOnce(
            &mut rapport_store::DbConn,
            transfer::Records,
        ) -> rapport_store::StoreResult<ImportReport>
        + Send
        + 'static,
{
    let file = spool(state, payload).await?;
    let report = state
        .run_write(move |conn| {
            let reader = std::io::BufReader::with_capacity(1 << 16, file);
            work(conn, transfer::read_records(reader, format))
        })
        .await?;
    if !report.committed {
        return Err(ApiError::ImportRefused(Box::new(report)));
    }
    counter.inc_by(report.created);
    Ok(HttpResponse::Ok().json(report))
}

/// Import customers from CSV or NDJSON. The body is received whole before anything is written.
/// `Idempotency-Key` is ignored: an import is idempotent by itself. Each row is validated like a create; rows
/// with an `external_ref` or `id` already known are left alone, so a file can be imported twice.
#[utoipa::path(
    post, path = "/api/v1/customers/import", tag = "customers",
    params(ImportQuery),
    request_body(content((String = "text/csv"), (String = "application/x-ndjson")),
        description = "CSV with a header row of field names (dotted for nested fields, e.g. `address.city`; `;` between list items), or NDJSON (`application/x-ndjson`): one customer object per line, plus optional `external_ref` and `id`"),
    responses(
        (status = 200, description = "Imported (with `skip_invalid`, the bad rows are listed)", body = ImportReport),
        (status = 403, description = "Lacks `customers:write`", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "The upload sent nothing for `RAPPORT_IMPORT_BODY_TIMEOUT` seconds; nothing written", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than `RAPPORT_IMPORT_MAX_BYTES`; nothing written", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither CSV nor NDJSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid rows in `all_or_nothing` mode, or (in any mode) a CSV header that names no known column (`unknown_columns` on line 1): nothing written; `report` lists them by line", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn import_customers(
    _auth: Auth<scope::CustomersWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ImportQuery>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let format = import_format(&req)?;
    let mode = query.into_inner().mode.unwrap_or_default();
    run_import(
        &state,
        payload,
        format,
        &state.metrics.customers_created,
        move |conn, records| transfer::import_customers(conn, records, mode, &mut |_| {}),
    )
    .await
}

/// Import interactions from CSV or NDJSON. The body is received whole before anything is
/// written. `Idempotency-Key` is ignored: an import is idempotent by itself. Each row is validated like a create; a
/// customer is named by `customer_id` or `customer_external_ref`; rows whose `external_ref` (per
/// source) or `id` is known are left alone. Purchase summaries are recomputed once at the end.
/// Imported purchases are history: they do not earn loyalty points (bring balances over from
/// another system as adjustments).
#[utoipa::path(
    post, path = "/api/v1/interactions/import", tag = "interactions",
    params(ImportQuery),
    request_body(content((String = "text/csv"), (String = "application/x-ndjson")),
        description = "CSV with a header row of field names, or NDJSON (`application/x-ndjson`): one interaction object per line"),
    responses(
        (status = 200, description = "Imported (with `skip_invalid`, the bad rows are listed)", body = ImportReport),
        (status = 403, description = "Lacks `interactions:write`", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "The upload sent nothing for `RAPPORT_IMPORT_BODY_TIMEOUT` seconds; nothing written", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than `RAPPORT_IMPORT_MAX_BYTES`; nothing written", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither CSV nor NDJSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid rows in `all_or_nothing` mode, or (in any mode) a CSV header that names no known column (`unknown_columns` on line 1): nothing written; `report` lists them by line", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn import_interactions(
    auth: Auth<scope::InteractionsWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ImportQuery>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let format = import_format(&req)?;
    let mode = query.into_inner().mode.unwrap_or_default();
    let agent = agent_of(&auth.principal);
    run_import(
        &state,
        payload,
        format,
        &state.metrics.interactions_created,
        move |conn, records| {
            transfer::import_interactions(conn, records, mode, Some(agent), &mut |_| {})
        },
    )
    .await
}

/// Export format.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    #[default]
    Ndjson,
    Csv,
}

impl From<ExportFormat> for Format {
    fn from(f: ExportFormat) -> Self {
        match f {
            ExportFormat::Ndjson => Format::Ndjson,
            ExportFormat::Csv => Format::Csv,
        }
    }
}

/// Query of the customer export.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportCustomersQuery {
    /// `ndjson` (default) or `csv`.
    pub format: Option<ExportFormat>,
    /// Include archived customers (default false).
    pub include_archived: Option<bool>,
}

/// Streams pages from `next_page` (called until it returns no cursor) as the response body.
async fn stream_export<T, F, Fut>(
    format: Format,
    columns: &'static [&'static str],
    start_after: Option<String>,
    next_page: F,
) -> ApiResult<HttpResponse>
where
    T: serde::Serialize + 'static,
    F: Fn(Option<String>) -> Fut + 'static,
    Fut: std::future::Future<Output = ApiResult<rapport_store::page::Page<T>>>,
{
    struct S<T> {
        writer: ExportWriter,
        /// The first page, read before answering so that its failure (a bad cursor, the
        /// database down) is an error status, not a 200 with a cut-off body.
        first: Option<rapport_store::page::Page<T>>,
        cursor: Option<String>,
        done: bool,
    }
    let first = next_page(start_after).await?;
    let start = S {
        writer: ExportWriter::new(format, columns),
        first: Some(first),
        cursor: None,
        done: false,
    };
    let body = futures_util::stream::unfold((start, next_page), |(mut s, next_page)| async move {
        if s.done {
            return None;
        }
        let mut buf = Vec::with_capacity(1 << 16);
        let page = match s.first.take() {
            Some(p) => Ok(p),
            None => next_page(s.cursor.take()).await,
        };
        let chunk = match page {
            Ok(page) => {
                let mut result = Ok(());
                for record in &page.items {
                    result = result.and_then(|()| s.writer.write(record, &mut buf));
                }
                match page.next_cursor {
                    Some(c) => s.cursor = Some(c),
                    None => {
                        s.done = true;
                        result = result.and_then(|()| s.writer.finish(&mut buf));
                    }
                }
                result
                    .map(|()| Bytes::from(buf))
                    .map_err(actix_web::error::ErrorInternalServerError)
            }
            // The status line is gone already: end the body early; the client sees a short read.
            Err(e) => {
                tracing::error!(error = %e, "export failed mid-stream");
                s.done = true;
                Err(actix_web::error::ErrorInternalServerError("export failed"))
            }
        };
        Some((chunk, (s, next_page)))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, format.media_type()))
        .streaming(body))
}

/// Export customers, oldest first, streamed as NDJSON or CSV (the layout the import reads).
#[utoipa::path(
    get, path = "/api/v1/customers/export", tag = "customers",
    params(ExportCustomersQuery),
    responses(
        (status = 200, description = "Every customer, streamed: NDJSON, or CSV with `format=csv`", content(
            (String = "application/x-ndjson"), (String = "text/csv; charset=utf-8"))),
        (status = 403, description = "Lacks `customers:read`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export_customers(
    _auth: Auth<scope::CustomersRead>,
    state: web::Data<AppState>,
    query: web::Query<ExportCustomersQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let filter = CustomerFilter {
        include_archived: q.include_archived.unwrap_or(false),
        ..Default::default()
    };
    stream_export(
        q.format.unwrap_or_default().into(),
        transfer::CUSTOMER_COLUMNS,
        None,
        move |cursor| {
            let state = state.clone();
            let filter = filter.clone();
            async move {
                state
                    .run(move |conn| {
                        customers::list(
                            conn,
                            &filter,
                            CustomerSort::CreatedAsc,
                            cursor.as_deref(),
                            EXPORT_PAGE,
                        )
                    })
                    .await
            }
        },
    )
    .await
}

/// Query of the interaction export: the list's filters, and the format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportInteractionsQuery {
    /// `ndjson` (default) or `csv`.
    pub format: Option<ExportFormat>,
}

/// Export interactions, oldest first, streamed as NDJSON or CSV; takes the list's filters.
#[utoipa::path(
    get, path = "/api/v1/interactions/export", tag = "interactions",
    params(ExportInteractionsQuery, ListInteractionsQuery),
    responses(
        (status = 200, description = "The interactions, streamed (oldest first unless `sort=-occurred_at`; a `cursor` from a list page resumes after it): NDJSON, or CSV with `format=csv`", content(
            (String = "application/x-ndjson"), (String = "text/csv; charset=utf-8"))),
        (status = 403, description = "Lacks `interactions:read`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export_interactions(
    _auth: Auth<scope::InteractionsRead>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    // One query string, two halves: the format, and the list's filters.
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::new(Code::InvalidQuery, format!("bad query string: {e}")))?;
    let format = match pairs.iter().position(|(k, _)| k == "format") {
        Some(i) => match pairs.remove(i).1.as_str() {
            "ndjson" => ExportFormat::Ndjson,
            "csv" => ExportFormat::Csv,
            other => {
                return Err(ApiError::new(
                    Code::InvalidQuery,
                    format!("format must be ndjson or csv, not {other:?}"),
                ))
            }
        },
        None => ExportFormat::default(),
    };
    let rest = serde_urlencoded::to_string(&pairs)
        .map_err(|e| ApiError::new(Code::InvalidQuery, e.to_string()))?;
    let list: ListInteractionsQuery = serde_urlencoded::from_str(&rest)
        .map_err(|e| ApiError::new(Code::InvalidQuery, format!("bad query string: {e}")))?;
    if list.limit.is_some() {
        return Err(ApiError::new(
            Code::InvalidQuery,
            "limit: an export has no page size; it streams everything that matches (resume with cursor)",
        ));
    }
    let filter = list.filter();
    let order = TimeOrder::from(list.sort.unwrap_or(InteractionSort::OccurredAsc));
    let start_after = list.cursor.filter(|c| !c.is_empty());
    stream_export(
        format.into(),
        transfer::INTERACTION_COLUMNS,
        start_after,
        move |cursor| {
            let state = state.clone();
            let filter = filter.clone();
            async move {
                state
                    .run(move |conn| {
                        interactions::list(conn, &filter, order, cursor.as_deref(), EXPORT_PAGE)
                    })
                    .await
            }
        },
    )
    .await
}
