//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and the
//! types' `ToSchema` derives. `openapi/openapi.json` is a committed copy; a test fails when it
//! differs from what this produces.

use serde_json::{json, Map, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rapport",
        description = "Open-source CRM backend: customers, interactions, loyalty, support and campaigns, \
with segmentation, customer lifetime value and attribution.\n\nErrors are RFC 9457 problem documents \
(`application/problem+json`) with a stable `code`. Lists use keyset pagination: pass `next_cursor` back \
as `cursor`. Authenticate with `Authorization: Bearer <JWT>` (staff, from `/api/v1/auth/token`) or \
`Authorization: Bearer rk_…` (API key).",
        license(name = "Apache-2.0"),
    ),
    paths(
        routes::health::live,
        routes::health::ready,
        routes::health::metrics,
        routes::auth::issue_token,
        routes::auth::revoke_token,
        routes::api_keys::create_api_key,
        routes::api_keys::list_api_keys,
        routes::api_keys::get_api_key,
        routes::api_keys::update_api_key,
        routes::api_keys::revoke_api_key,
        routes::users::create_user,
        routes::users::list_users,
        routes::users::get_user,
        routes::users::update_user,
        routes::auth::who_am_i,
        routes::customers::create_customer,
        routes::customers::list_customers,
        routes::customers::get_customer,
        routes::customers::patch_customer,
        routes::customers::delete_customer,
        routes::customers::restore_customer,
        routes::transfer::import_customers,
        routes::transfer::export_customers,
        routes::transfer::import_interactions,
        routes::transfer::export_interactions,
        routes::duplicates::list_duplicates,
        routes::duplicates::merge_customer,
        routes::duplicates::list_merges,
        routes::interactions::customer_timeline,
        routes::interactions::purchase_summary,
        routes::interactions::create_interaction,
        routes::interactions::list_interactions,
        routes::interactions::get_interaction,
        routes::interactions::patch_interaction,
        routes::interactions::delete_interaction,
        routes::loyalty::get_program,
        routes::loyalty::put_program,
        routes::loyalty::get_account,
        routes::loyalty::list_transactions,
        routes::loyalty::adjust,
        routes::loyalty::create_reward,
        routes::loyalty::list_rewards,
        routes::loyalty::get_reward,
        routes::loyalty::patch_reward,
        routes::loyalty::retire_reward,
        routes::loyalty::list_redemptions,
        routes::loyalty::redeem,
        routes::loyalty::get_redemption,
        routes::loyalty::cancel_redemption,
        routes::tickets::ticket::create_ticket,
        routes::tickets::ticket::list_tickets,
        routes::tickets::stats::ticket_stats,
        routes::tickets::settings::get_settings,
        routes::tickets::settings::put_settings,
        routes::tickets::ticket::get_ticket,
        routes::tickets::ticket::patch_ticket,
        routes::tickets::messages::list_messages,
        routes::tickets::messages::add_message,
        routes::tickets::events::list_events,
        routes::tickets::ticket::related_tickets,
        routes::tickets::satisfaction::rate_ticket,
        routes::tickets::ticket::customer_tickets,
        routes::tickets::policies::create_policy,
        routes::tickets::policies::list_policies,
        routes::tickets::policies::get_policy,
        routes::tickets::policies::patch_policy,
        routes::tickets::policies::delete_policy,
    ),
    components(schemas(crate::error::Problem, rapport_domain::FieldError, rapport_domain::customer::CustomerSort, routes::interactions::InteractionSort, routes::tickets::ticket::TicketSort, routes::transfer::ExportFormat, crate::transfer::ImportMode)),
    modifiers(&Security),
    tags(
        (name = "customers", description = "Customers: identity, contact, demographics, preferences, lifecycle"),
        (name = "interactions", description = "The contact history across channels, purchases among it"),
        (name = "loyalty", description = "The loyalty program, customers' points accounts and their append-only ledger"),
        (name = "tickets", description = "Support tickets: the service desk, its SLA policies, conversation, history, CSAT and stats"),
        (name = "auth", description = "Staff sign-in and tokens"),
        (name = "api-keys", description = "API keys for integrations (admin)"),
        (name = "users", description = "Staff accounts (admin)"),
        (name = "ops", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer_jwt",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Staff access token from POST /api/v1/auth/token"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("rk_…")
                    .description(Some("Scoped API key, sent as a bearer token"))
                    .build(),
            ),
        );
        // Default for every operation; public ones override with `security(())`.
        doc.security = Some(vec![
            SecurityRequirement::new("bearer_jwt", Vec::<String>::new()),
            SecurityRequirement::new("api_key", Vec::<String>::new()),
        ]);
    }
}

/// The document as pretty JSON with a trailing newline, as committed (and served).
pub fn document_json() -> String {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    kind_shapes(&mut doc);
    at_least_one(&mut doc);
    merge_patch_bodies(&mut doc);
    create_bodies(&mut doc);
    standard_responses(&mut doc);
    idempotent_responses(&mut doc);
    no_nul_in_text(&mut doc);
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

/// A body whose shape depends on its kind (`rapport_domain::shape`) gets a `oneOf` of one schema
/// per kind, with a discriminator: what the kind needs is not `null`, what it forbids is.
fn kind_shapes(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for shapes in rapport_domain::shape::ALL {
        if !schemas.contains_key(shapes.schema) {
            continue;
        }
        let mut one_of = Vec::new();
        let mut mapping = Map::new();
        for k in shapes.kinds {
            let name = format!("{}_{}", shapes.schema, k.kind);
            let reference = format!("#/components/schemas/{name}");
            let mut properties = Map::new();
            properties.insert(shapes.tag.into(), json!({ "const": k.kind }));
            for f in k.required {
                properties.insert((*f).into(), json!({ "not": { "type": "null" } }));
            }
            for f in k.forbidden {
                properties.insert((*f).into(), json!({ "type": "null" }));
            }
            let mut required = vec![shapes.tag];
            required.extend(k.required);
            let mut description = format!("`{}: {}`", shapes.tag, k.kind);
            if !k.required.is_empty() {
                description += &format!(": needs `{}`", k.required.join("`, `"));
            }
            if !k.forbidden.is_empty() {
                description += &format!("; no `{}`", k.forbidden.join("`, `"));
            }
            schemas.insert(
                name,
                json!({
                    "type": "object",
                    "description": description,
                    "properties": properties,
                    "required": required,
                }),
            );
            one_of.push(json!({ "$ref": reference }));
            mapping.insert(k.kind.into(), Value::String(reference));
        }
        if let Some(base) = schemas
            .get_mut(shapes.schema)
            .and_then(Value::as_object_mut)
        {
            base.insert("oneOf".into(), Value::Array(one_of));
            base.insert(
                "discriminator".into(),
                json!({ "propertyName": shapes.tag, "mapping": mapping }),
            );
        }
    }
}

/// A body that needs one of some fields gets an `anyOf` of them, each present and not blank.
fn at_least_one(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for rule in rapport_domain::shape::AT_LEAST_ONE {
        let Some(base) = schemas.get_mut(rule.schema).and_then(Value::as_object_mut) else {
            continue;
        };
        let any_of: Vec<Value> = rule
            .fields
            .iter()
            .map(|f| json!({ "required": [f], "properties": { *f: { "type": "string", "pattern": "\\S" } } }))
            .collect();
        base.insert("anyOf".into(), Value::Array(any_of));
    }
}

/// A merge patch (RFC 7396) body is not the resource's draft: any of its fields may be left out
/// (each stays as it is), and `null` removes an optional one. For every
/// `application/merge-patch+json` body that names a draft, the document gets `{Draft}Patch`: the
/// draft's properties, none required, no per-kind `oneOf` (the patched whole is checked as a
/// create is, against what is stored).
fn merge_patch_bodies(doc: &mut Value) {
    // The schemas are taken out while the paths are walked, and put back in their place.
    let Some(slot) = doc.get_mut("components") else {
        return;
    };
    let mut components = slot.take();
    if let (Some(paths), Some(schemas)) = (
        doc.get_mut("paths").and_then(Value::as_object_mut),
        components.get_mut("schemas").and_then(Value::as_object_mut),
    ) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for op in item.values_mut() {
                let Some(body) =
                    op.pointer_mut("/requestBody/content/application~1merge-patch+json/schema")
                else {
                    continue;
                };
                let Some(name) = body
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    .map(str::to_owned)
                else {
                    continue;
                };
                let Some(patch_name) = patch_schema(schemas, &name) else {
                    continue;
                };
                *body = json!({ "$ref": format!("#/components/schemas/{patch_name}") });
            }
        }
    }
    if let Some(slot) = doc.get_mut("components") {
        *slot = components;
    }
}

/// Makes `{name}Patch` (once) from the object schema `name` and gives its name: every property
/// optional and nullable, and a property that is itself an object a patch of it in turn (a
/// merge patch merges nested objects). `None` for a schema that is not an object.
fn patch_schema(schemas: &mut Map<String, Value>, name: &str) -> Option<String> {
    let patch_name = format!("{name}Patch");
    if schemas.contains_key(&patch_name) {
        return Some(patch_name);
    }
    let mut schema = schemas.get(name).cloned()?;
    let o = schema.as_object_mut()?;
    o.get("properties")?;
    // Reserved first, so a schema that contains itself ends.
    schemas.insert(patch_name.clone(), Value::Null);
    o.remove("required");
    o.remove("anyOf");
    o.remove("oneOf");
    o.remove("discriminator");
    if let Some(props) = o.get_mut("properties").and_then(Value::as_object_mut) {
        for p in props.values_mut() {
            nested_patches(schemas, p);
            or_null(p);
        }
    }
    o.insert(
        "description".into(),
        Value::String(format!(
            "A JSON merge patch (RFC 7396) of a `{name}`: the fields to change, each as `{name}` \
             describes it; absent fields stay, `null` removes an optional one, an object is \
             merged in turn. The result must be a valid `{name}`."
        )),
    );
    if let Some((_, field, extra)) = PATCH_EXTRAS.iter().find(|(schema, _, _)| *schema == name) {
        if let Some(props) = o.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert(
                (*field).into(),
                serde_json::from_str(extra).unwrap_or_default(),
            );
        }
    }
    schemas.insert(patch_name.clone(), schema);
    Some(patch_name)
}

/// A property that names an object schema (directly or as one of `anyOf`/`oneOf`) names its
/// patch instead.
fn nested_patches(schemas: &mut Map<String, Value>, property: &mut Value) {
    let Some(o) = property.as_object_mut() else {
        return;
    };
    if let Some(name) = o
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .map(str::to_owned)
    {
        if let Some(patch) = patch_schema(schemas, &name) {
            o.insert(
                "$ref".into(),
                Value::String(format!("#/components/schemas/{patch}")),
            );
        }
        return;
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(items) = o.get_mut(key).and_then(Value::as_array_mut) {
            for item in items {
                nested_patches(schemas, item);
            }
        }
    }
}

/// Fields a patch takes beyond its draft's: `(draft, field, schema)`.
const PATCH_EXTRAS: &[(&str, &str, &str)] = &[(
    "RewardDraft",
    "active",
    r#"{"type": "boolean", "description": "`false` takes the reward off the catalog, `true` puts it back"}"#,
)];

/// The body of a create that takes fewer values of a field than a change does:
/// `(path, draft, field, values)`; the create's body is `New{draft}`.
const CREATE_ONLY: &[(&str, &str, &str, &[&str])] =
    &[("/api/v1/tickets", "TicketDraft", "status", &["new", "open"])];

fn create_bodies(doc: &mut Value) {
    for (path, draft, field, values) in CREATE_ONLY {
        let name = format!("New{draft}");
        let Some(mut schema) = doc
            .pointer(&format!("/components/schemas/{draft}"))
            .cloned()
        else {
            continue;
        };
        if let Some(p) = schema.pointer_mut(&format!("/properties/{field}")) {
            let description = p.get("description").cloned();
            *p = json!({ "type": "string", "enum": values, "default": values[0] });
            if let Some(d) = description {
                p["description"] = d;
            }
        }
        let pointer = format!(
            "/paths/{}/post/requestBody/content/application~1json/schema",
            path.replace('/', "~1")
        );
        let Some(body) = doc.pointer_mut(&pointer) else {
            continue;
        };
        *body = json!({ "$ref": format!("#/components/schemas/{name}") });
        if let Some(schemas) = doc
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
        {
            schemas.insert(name, schema);
        }
    }
}

/// A schema that also takes `null`.
fn or_null(schema: &mut Value) {
    let Some(o) = schema.as_object_mut() else {
        return;
    };
    if let Some(values) = o.get_mut("enum").and_then(Value::as_array_mut) {
        if !values.contains(&Value::Null) {
            values.push(Value::Null);
        }
    }
    match o.get_mut("type") {
        Some(Value::String(t)) => {
            if t != "null" {
                let t = std::mem::take(t);
                o.insert("type".into(), json!([t, "null"]));
            }
        }
        Some(Value::Array(types)) => {
            if !types.contains(&json!("null")) {
                types.push(json!("null"));
            }
        }
        _ => {
            let inner = Value::Object(std::mem::take(o));
            o.insert("anyOf".into(), json!([inner, { "type": "null" }]));
        }
    }
}

/// Every operation of the document.
fn operations_mut(doc: &mut Value) -> impl Iterator<Item = &mut Value> {
    doc.get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
}

/// The body of a problem answer.
fn problem_content() -> Value {
    json!({
        "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } }
    })
}

/// The answers every operation of a kind can give, written once: 401 on every operation that
/// needs credentials; on one with a JSON body 400 (malformed JSON), 413, 415 and 422; 400 for a
/// bad path id or query on one that takes them. A handler lists only its own answers (the
/// success, 403 with its scope, 404, 409 with its conflict codes, 412), and may word one of
/// these itself.
fn standard_responses(doc: &mut Value) {
    let problem = problem_content();
    for op in operations_mut(doc) {
        let public = op
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
        let json_body = op
            .pointer("/requestBody/content")
            .and_then(Value::as_object)
            .is_some_and(|c| c.keys().any(|k| k.contains("json")));
        let params: Vec<(String, String)> = op
            .get("parameters")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        let s = |k: &str| p[k].as_str().unwrap_or("").to_owned();
                        (s("in"), s("name"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let in_path = params.iter().any(|(at, _)| at == "path");
        let in_query = params.iter().any(|(at, _)| at == "query");
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        let mut add = |status: &str, description: String| {
            responses.entry(status).or_insert_with(
                || json!({ "description": description, "content": problem.clone() }),
            );
        };
        let mut bad = Vec::new();
        if json_body {
            bad.push("malformed JSON");
        }
        if in_path {
            bad.push("a bad id");
        }
        if in_query {
            bad.push("a bad query parameter or cursor");
        }
        if !bad.is_empty() {
            let mut text = bad.join(", ");
            text[..1].make_ascii_uppercase();
            add("400", text);
        }
        if !public {
            add("401", "No or bad credentials".into());
        }
        if json_body {
            add("413", "Body too large".into());
            add("415", "Not JSON".into());
            add("422", "Invalid fields (`errors` names each)".into());
        }
    }
}

/// Every operation that honours `Idempotency-Key` documents what the key itself can answer: 409
/// `idempotency_in_progress` (the first attempt is still running) and 422
/// `idempotency_key_reused` (the key came with another request).
fn idempotent_responses(doc: &mut Value) {
    let problem = problem_content();
    for op in operations_mut(doc) {
        let keyed = op
            .get("parameters")
            .and_then(Value::as_array)
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "Idempotency-Key"));
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        if !keyed {
            continue;
        }
        for (status, code, what) in [
            (
                "409",
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still running (retry after `Retry-After`)",
            ),
            (
                "422",
                "idempotency_key_reused",
                "this Idempotency-Key came with another request",
            ),
        ] {
            let entry = responses
                .entry(status)
                .or_insert_with(|| json!({ "description": "", "content": problem.clone() }));
            let description = entry["description"].as_str().unwrap_or("").to_owned();
            if !description.contains(code) {
                let line = format!("`{code}`: {what}");
                entry["description"] = Value::String(if description.is_empty() {
                    line
                } else {
                    format!("{description}; {line}")
                });
            }
        }
    }
}

/// No text the server takes may hold a NUL character (`\u0000`): said on every string a request
/// carries, in a body or a parameter.
fn no_nul_in_text(doc: &mut Value) {
    fn walk(schema: &mut Value) {
        match schema {
            Value::Object(o) => {
                let is_text = match o.get("type") {
                    Some(Value::String(t)) => t == "string",
                    Some(Value::Array(ts)) => ts.contains(&json!("string")),
                    _ => false,
                };
                if is_text && !o.contains_key("enum") && !o.contains_key("not") {
                    o.insert(
                        "not".into(),
                        json!({ "type": "string", "pattern": "\\u0000" }),
                    );
                }
                let is_object = match o.get("type") {
                    Some(Value::String(t)) => t == "object",
                    Some(Value::Array(ts)) => ts.contains(&json!("object")),
                    _ => false,
                };
                if is_object && !o.contains_key("propertyNames") {
                    o.insert(
                        "propertyNames".into(),
                        json!({ "not": { "type": "string", "pattern": "\\u0000" } }),
                    );
                }
                // Free-form members (metadata, custom fields) hold JSON without NUL too.
                if is_object
                    && o.get("additionalProperties")
                        .is_none_or(|a| a.as_bool() == Some(true))
                {
                    o.insert(
                        "additionalProperties".into(),
                        json!({ "$ref": "#/components/schemas/JsonValue" }),
                    );
                }
                for (k, v) in o.iter_mut() {
                    if k != "not"
                        && k != "enum"
                        && k != "example"
                        && k != "examples"
                        && k != "propertyNames"
                    {
                        walk(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    // Only what requests carry: an answer may quote what was refused.
    let requested = request_schemas(doc);
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            if requested.contains(name) {
                walk(schema);
            }
        }
        schemas.insert(
            "JsonValue".into(),
            json!({
                "description": "Any JSON value whose text and keys hold no NUL character",
                "anyOf": [
                    { "type": "string", "not": { "type": "string", "pattern": "\\u0000" } },
                    { "type": ["number", "boolean", "null"] },
                    { "type": "array", "items": { "$ref": "#/components/schemas/JsonValue" } },
                    {
                        "type": "object",
                        "propertyNames": { "not": { "type": "string", "pattern": "\\u0000" } },
                        "additionalProperties": { "$ref": "#/components/schemas/JsonValue" }
                    }
                ]
            }),
        );
    }
    for op in operations_mut(doc) {
        if let Some(params) = op.get_mut("parameters") {
            walk(params);
        }
    }
}

/// The component schemas a request can carry: those its bodies and parameters name, and what
/// they name in turn.
fn request_schemas(doc: &Value) -> std::collections::BTreeSet<String> {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(name) = o
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                {
                    out.push(name.to_owned());
                }
                o.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut todo = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for op in paths
            .values()
            .filter_map(Value::as_object)
            .flat_map(|item| item.values())
        {
            refs(&op["requestBody"], &mut todo);
            refs(&op["parameters"], &mut todo);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            refs(&doc["components"]["schemas"][&name], &mut todo);
        }
    }
    seen
}
