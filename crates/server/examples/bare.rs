//! A bare baseline for the load tests: the same store functions and rows as Rapport's customer
//! endpoints, on actix-web + diesel + r2d2 + `web::block`, with no authentication, metrics,
//! request ids, logging, validation or problem documents. `bench/run.sh` runs it with
//! `SERVER=bare` so the cost of everything Rapport adds can be read off directly.
//!
//!     DATABASE_URL=sqlite://bench.db RAPPORT_BIND=127.0.0.1:18080 cargo run --release --example bare
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::{web, App, HttpResponse, HttpServer};
use rapport_domain::customer::CustomerDraft;
use rapport_store::customers::{self, CustomerFilter, CustomerSort};
use rapport_store::{Db, PoolOptions};
use serde::Deserialize;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn get(db: web::Data<Db>, id: web::Path<uuid::Uuid>) -> HttpResponse {
    let id = id.into_inner();
    match web::block(move || customers::get(&mut *db.conn()?, id))
        .await
        .unwrap()
    {
        Ok(c) => HttpResponse::Ok().json(c),
        Err(_) => HttpResponse::NotFound().finish(),
    }
}

async fn list(db: web::Data<Db>, q: web::Query<ListQuery>) -> HttpResponse {
    let q = q.into_inner();
    let page = web::block(move || {
        customers::list(
            &mut *db.conn()?,
            &CustomerFilter::default(),
            CustomerSort::CreatedAsc,
            q.cursor.as_deref(),
            q.limit.unwrap_or(50),
        )
    })
    .await
    .unwrap()
    .unwrap();
    #[derive(serde::Serialize)]
    struct Page<T> {
        data: Vec<T>,
        next_cursor: Option<String>,
    }
    HttpResponse::Ok().json(Page {
        data: page.items,
        next_cursor: page.next_cursor,
    })
}

async fn create(db: web::Data<Db>, body: web::Bytes) -> HttpResponse {
    let draft: CustomerDraft = serde_json::from_slice(&body).unwrap();
    let c = web::block(move || {
        db.write(move |conn| customers::insert(conn, &draft, rapport_domain::now()))
    })
    .await
    .unwrap()
    .unwrap();
    HttpResponse::Created().json(c)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://bare.db".into());
    let bind = std::env::var("RAPPORT_BIND").unwrap_or_else(|_| "127.0.0.1:18080".into());
    let db = Db::connect(&url, &PoolOptions::default()).unwrap();
    db.migrate().unwrap();
    let data = web::Data::new(db);
    HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route(
                "/health/ready",
                web::get().to(|| async { HttpResponse::Ok().finish() }),
            )
            .route("/api/v1/customers", web::get().to(list))
            .route("/api/v1/customers", web::post().to(create))
            .route("/api/v1/customers/{id}", web::get().to(get))
    })
    .bind(bind)?
    .run()
    .await
}
