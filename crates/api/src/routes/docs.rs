//! The OpenAPI document and an interactive docs page that works offline: Swagger UI's assets
//! are vendored in `crates/api/vendor/swagger-ui` and compiled into the binary.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::AppState;

const BUNDLE: &[u8] = include_bytes!("../../vendor/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../../vendor/swagger-ui/swagger-ui.css");
const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Rapport API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
  </script>
</body>
</html>"##;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(["/docs", "/docs/"]).get(page))
        .service(web::resource("/docs/swagger-ui-bundle.js").get(bundle))
        .service(web::resource("/docs/swagger-ui.css").get(css))
        .service(web::resource("/api/v1/openapi.json").get(openapi_json));
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(PAGE)
}

async fn bundle() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(BUNDLE)
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(CSS)
}

async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone())
}
