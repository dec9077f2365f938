//! Bulk writes for import and demo data: many rows per statement, existence checks per batch.
//! The caller owns the transaction; after inserting interactions it calls
//! [`finish_interactions`] so the purchase totals of every customer touched are recomputed once.
//!
//! Loyalty rows ([`insert_loyalty`]: entries, lots, consumptions, redemptions and codes) go in
//! as the caller computed them, for a history replayed with the domain's rules (the demo seed);
//! the functions of [`crate::loyalty`] that move points one at a time are the live path.

mod copy;
mod customers;
mod interactions;
mod loyalty;
mod session;

pub use self::customers::{
    customer_targets, customers_by_external_ref, insert_customers, NewCustomer,
};
pub use self::interactions::{
    defer_interaction_indexes, existing_interaction_ids, existing_interaction_refs,
    finish_interactions, insert_interactions, rebuild_interaction_indexes, DeferredIndexes,
    NewInteraction,
};
pub use self::loyalty::{
    insert_loyalty, insert_rewards, lock_rewards, loyalty_programs, take_reward_stock, LoyaltyRows,
    NewConsumption, NewLot, NewLoyaltyEntry, NewRedemption, NewReward,
};
pub use self::session::bulk_session;

/// Rows per INSERT: SQLite allows 32 766 bound values per statement; 30 columns × 500 fits.
const ROWS_PER_STATEMENT: usize = 500;
