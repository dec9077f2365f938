//! The diesel schema, one for both backends. Three column types differ per backend and are
//! mapped in [`crate::types`]: UUIDs, UTC timestamps and JSON.

pub mod sql_types {
    /// `uuid` on PostgreSQL, a 16-byte blob on SQLite.
    #[derive(diesel::sql_types::SqlType, diesel::query_builder::QueryId)]
    #[diesel(postgres_type(oid = 2950, array_oid = 2951))]
    #[diesel(sqlite_type(name = "Binary"))]
    pub struct UuidType;

    /// `timestamptz` on PostgreSQL, fixed-width RFC 3339 UTC `TEXT` on SQLite.
    #[derive(diesel::sql_types::SqlType, diesel::query_builder::QueryId)]
    #[diesel(postgres_type(oid = 1184, array_oid = 1185))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct TimestampType;

    /// `jsonb` on PostgreSQL, JSON `TEXT` on SQLite.
    #[derive(diesel::sql_types::SqlType, diesel::query_builder::QueryId)]
    #[diesel(postgres_type(oid = 3802, array_oid = 3807))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct JsonType;
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType};

    users (id) {
        id -> UuidType,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        created_at -> TimestampType,
        updated_at -> TimestampType,
        disabled_at -> Nullable<TimestampType>,
        version -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType};

    api_keys (id) {
        id -> UuidType,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        scopes -> Text,
        created_by -> Nullable<Text>,
        created_at -> TimestampType,
        expires_at -> Nullable<TimestampType>,
        last_used_at -> Nullable<TimestampType>,
        revoked_at -> Nullable<TimestampType>,
        version -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType};

    refresh_tokens (id) {
        id -> UuidType,
        user_id -> UuidType,
        family_id -> UuidType,
        token_hash -> Text,
        created_at -> TimestampType,
        expires_at -> TimestampType,
        used_at -> Nullable<TimestampType>,
        revoked_at -> Nullable<TimestampType>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType, JsonType};

    customers (id) {
        id -> UuidType,
        given_name -> Nullable<Text>,
        family_name -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        other_emails -> JsonType,
        other_phones -> JsonType,
        address_line1 -> Nullable<Text>,
        address_line2 -> Nullable<Text>,
        city -> Nullable<Text>,
        region -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        country -> Nullable<Text>,
        birth_date -> Nullable<Date>,
        social_handles -> JsonType,
        occupation -> Nullable<Text>,
        income_band -> Nullable<Text>,
        education -> Nullable<Text>,
        household_size -> Nullable<Integer>,
        preferences -> JsonType,
        tags -> JsonType,
        custom_attributes -> JsonType,
        acquisition_channel -> Nullable<Text>,
        lifecycle_stage -> Text,
        search_text -> Text,
        version -> BigInt,
        created_at -> TimestampType,
        updated_at -> TimestampType,
        archived_at -> Nullable<TimestampType>,
        external_ref -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::UuidType;

    customer_tags (customer_id, tag) {
        customer_id -> UuidType,
        tag -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{TimestampType, JsonType};

    idempotency_keys (principal, key) {
        principal -> Text,
        key -> Text,
        request_hash -> Text,
        status_code -> Nullable<Integer>,
        response_body -> Nullable<Binary>,
        response_headers -> Nullable<JsonType>,
        created_at -> TimestampType,
        completed_at -> Nullable<TimestampType>,
        owner -> Nullable<Text>,
        lease_until -> Nullable<TimestampType>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType, JsonType};

    interactions (id) {
        id -> UuidType,
        customer_id -> UuidType,
        channel -> Text,
        kind -> Text,
        direction -> Nullable<Text>,
        occurred_at -> TimestampType,
        subject -> Nullable<Text>,
        body -> Nullable<Text>,
        source -> Text,
        external_ref -> Nullable<Text>,
        metadata -> JsonType,
        amount_minor -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        product_category -> Nullable<Text>,
        campaign_id -> Nullable<UuidType>,
        order_ref -> Nullable<Text>,
        agent_type -> Nullable<Text>,
        agent_id -> Nullable<UuidType>,
        version -> BigInt,
        created_at -> TimestampType,
        updated_at -> TimestampType,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType};

    customer_purchase_totals (customer_id, currency) {
        customer_id -> UuidType,
        currency -> Text,
        purchase_count -> BigInt,
        total_minor -> BigInt,
        first_purchase_at -> TimestampType,
        last_purchase_at -> TimestampType,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType};

    customer_aliases (kind, value) {
        kind -> Text,
        value -> Text,
        customer_id -> UuidType,
        created_at -> TimestampType,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType, JsonType};

    customer_merges (id) {
        id -> UuidType,
        survivor_id -> UuidType,
        duplicate_id -> UuidType,
        duplicate -> JsonType,
        moved_interactions -> BigInt,
        merged_by -> Nullable<Text>,
        merged_at -> TimestampType,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{TimestampType, JsonType};

    loyalty_programs (version) {
        version -> BigInt,
        definition -> JsonType,
        changed_by -> Nullable<Text>,
        created_at -> TimestampType,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType};

    loyalty_entries (id) {
        id -> UuidType,
        customer_id -> UuidType,
        kind -> Text,
        points -> BigInt,
        reason -> Nullable<Text>,
        source_type -> Text,
        source_id -> Nullable<UuidType>,
        reverses_id -> Nullable<UuidType>,
        program_version -> Nullable<BigInt>,
        created_at -> TimestampType,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType};

    loyalty_lots (entry_id) {
        entry_id -> UuidType,
        customer_id -> UuidType,
        points -> BigInt,
        remaining -> BigInt,
        awarded_at -> TimestampType,
        expires_at -> Nullable<TimestampType>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::UuidType;

    loyalty_consumptions (entry_id, lot_id) {
        entry_id -> UuidType,
        lot_id -> UuidType,
        points -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType};

    loyalty_rewards (id) {
        id -> UuidType,
        name -> Text,
        description -> Nullable<Text>,
        kind -> Text,
        cost_points -> BigInt,
        percent_off -> Nullable<BigInt>,
        amount_minor -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        partner -> Nullable<Text>,
        quantity -> BigInt,
        stock -> Nullable<BigInt>,
        active -> Bool,
        created_at -> TimestampType,
        version -> BigInt,
        updated_at -> Nullable<TimestampType>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType, JsonType};

    loyalty_redemptions (id) {
        id -> UuidType,
        customer_id -> UuidType,
        reward_id -> UuidType,
        points -> BigInt,
        codes -> JsonType,
        terms -> JsonType,
        entry_id -> UuidType,
        cancel_entry_id -> Nullable<UuidType>,
        created_at -> TimestampType,
        cancelled_at -> Nullable<TimestampType>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::UuidType;

    loyalty_reward_codes (code) {
        code -> Text,
        redemption_id -> UuidType,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType, JsonType};

    sla_policies (id) {
        id -> UuidType,
        name -> Text,
        priority -> Text,
        category -> Nullable<Text>,
        first_response_minutes -> BigInt,
        resolution_minutes -> BigInt,
        calendar -> Nullable<JsonType>,
        version -> BigInt,
        created_at -> TimestampType,
        updated_at -> TimestampType,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType, JsonType};

    tickets (id) {
        id -> UuidType,
        customer_id -> UuidType,
        subject -> Text,
        description -> Nullable<Text>,
        channel -> Text,
        category -> Nullable<Text>,
        tags -> JsonType,
        priority -> Text,
        status -> Text,
        assignee_id -> Nullable<UuidType>,
        product_model -> Nullable<Text>,
        product_serial -> Nullable<Text>,
        product_purchased_at -> Nullable<TimestampType>,
        purchase_interaction_id -> Nullable<UuidType>,
        custom_fields -> JsonType,
        sla_terms -> Nullable<JsonType>,
        sla_pauses -> JsonType,
        first_response_due_at -> Nullable<TimestampType>,
        resolution_due_at -> Nullable<TimestampType>,
        first_response_breached -> Bool,
        resolution_breached -> Bool,
        first_responded_at -> Nullable<TimestampType>,
        solved_at -> Nullable<TimestampType>,
        closed_at -> Nullable<TimestampType>,
        csat -> Nullable<JsonType>,
        search_text -> Text,
        created_by_type -> Nullable<Text>,
        created_by_id -> Nullable<UuidType>,
        version -> BigInt,
        created_at -> TimestampType,
        updated_at -> TimestampType,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::UuidType;

    ticket_tags (tag, ticket_id) {
        ticket_id -> UuidType,
        tag -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType};

    ticket_events (id) {
        id -> UuidType,
        ticket_id -> UuidType,
        customer_id -> UuidType,
        kind -> Text,
        from_value -> Nullable<Text>,
        to_value -> Nullable<Text>,
        actor_type -> Nullable<Text>,
        actor_id -> Nullable<UuidType>,
        created_at -> TimestampType,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::{UuidType, TimestampType};

    ticket_messages (id) {
        id -> UuidType,
        ticket_id -> UuidType,
        visibility -> Text,
        author_type -> Text,
        author_id -> UuidType,
        body -> Text,
        created_at -> TimestampType,
    }
}

diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(interactions -> customers (customer_id));
diesel::joinable!(customer_purchase_totals -> customers (customer_id));
diesel::joinable!(customer_aliases -> customers (customer_id));
diesel::joinable!(customer_tags -> customers (customer_id));
diesel::joinable!(loyalty_entries -> customers (customer_id));
diesel::joinable!(loyalty_lots -> customers (customer_id));
diesel::joinable!(tickets -> customers (customer_id));
diesel::joinable!(ticket_tags -> tickets (ticket_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    api_keys,
    refresh_tokens,
    customers,
    customer_tags,
    settings,
    idempotency_keys,
    interactions,
    customer_purchase_totals,
    customer_aliases,
    customer_merges,
    loyalty_programs,
    loyalty_entries,
    loyalty_lots,
    loyalty_consumptions,
    loyalty_rewards,
    loyalty_redemptions,
    loyalty_reward_codes,
    sla_policies,
    tickets,
    ticket_tags,
    ticket_events,
    ticket_messages
);
