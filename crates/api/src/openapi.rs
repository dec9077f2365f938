//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and the
//! types' `ToSchema` derives. `openapi/openapi.json` is a committed copy; a test fails when it
//! differs from what this produces.

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

/// The document as pretty JSON with a trailing newline, as committed.
pub fn document_json() -> String {
    let mut s = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}
