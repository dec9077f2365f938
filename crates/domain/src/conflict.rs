//! Why a write was refused by the state of what it touches: one variant per rule, each with the
//! stable code a client switches on (the HTTP layer answers 409 with it). Rules travel between
//! crates as this type, never as strings.

use crate::ticket::{TicketStatus, TransitionError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The customer is archived and takes no more changes.
    CustomerArchived,
    /// Another customer, or another record from the same source, has this `external_ref`; the
    /// one that has it, when known.
    DuplicateExternalRef { existing_id: Option<uuid::Uuid> },
    /// Another user has this e-mail.
    DuplicateEmail,
    /// Another SLA policy covers this priority and category.
    DuplicateSlaPolicy,
    /// A customer's purchases in a currency would add up past what can be stored.
    PurchaseTotalOverflow,
    /// A customer cannot be merged into itself.
    MergeSelf,
    /// Fewer spendable points than the operation takes.
    InsufficientPoints,
    /// The reward has no stock left.
    RewardOutOfStock,
    /// The reward is retired.
    RewardInactive,
    /// The redemption is cancelled already.
    RedemptionCancelled,
    /// The loyalty program changed meanwhile.
    LoyaltyProgramChanged,
    /// The ticket is closed: final.
    TicketClosed,
    /// Only a solved or closed ticket can be rated.
    TicketNotSolved,
    /// The ticket has been rated already.
    AlreadyRated,
    /// The ticket changed while this was being written.
    TicketChanged,
    /// A status change the ticket state machine refuses.
    Transition(TransitionError),
    /// The resource kept changing under a merge patch sent without `If-Match`.
    ConcurrentUpdate,
    /// Another attempt with this `Idempotency-Key` holds it (this one outlived its lease).
    IdempotencyTakenOver,
    /// The API key is revoked: it takes no more changes.
    ApiKeyRevoked,
}

impl Conflict {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        use Conflict::*;
        match self {
            CustomerArchived => "customer_archived",
            DuplicateExternalRef { .. } => "duplicate_external_ref",
            DuplicateEmail => "duplicate_email",
            DuplicateSlaPolicy => "duplicate_sla_policy",
            PurchaseTotalOverflow => "purchase_total_overflow",
            MergeSelf => "merge_self",
            InsufficientPoints => "insufficient_points",
            RewardOutOfStock => "reward_out_of_stock",
            RewardInactive => "reward_inactive",
            RedemptionCancelled => "redemption_cancelled",
            LoyaltyProgramChanged => "loyalty_program_changed",
            TicketClosed => "ticket_closed",
            TicketNotSolved => "ticket_not_solved",
            AlreadyRated => "already_rated",
            TicketChanged => "ticket_changed",
            Transition(TransitionError::Illegal { .. }) => "illegal_transition",
            Transition(TransitionError::ReopenWindowClosed { .. }) => "reopen_window_closed",
            ConcurrentUpdate => "concurrent_update",
            IdempotencyTakenOver => "idempotency_in_progress",
            ApiKeyRevoked => "api_key_revoked",
        }
    }

    /// What a person reads.
    pub fn detail(&self) -> String {
        use Conflict::*;
        match self {
            CustomerArchived => "the customer is archived and can no longer be changed".into(),
            DuplicateExternalRef { existing_id: None } => {
                "another record from this source already has this external_ref".into()
            }
            DuplicateExternalRef {
                existing_id: Some(id),
            } => format!(
                "{id} already has this source and external_ref, with other details; \
                 change it there, or use another external_ref"
            ),
            DuplicateEmail => "a user with this e-mail already exists".into(),
            DuplicateSlaPolicy => {
                "another SLA policy already covers this priority and category".into()
            }
            PurchaseTotalOverflow => {
                "the customer's purchases in this currency would add up to more than can be stored"
                    .into()
            }
            MergeSelf => "a customer cannot be merged into itself".into(),
            InsufficientPoints => "the customer has fewer spendable points than this takes".into(),
            RewardOutOfStock => "the reward is out of stock".into(),
            RewardInactive => "the reward has been retired and can no longer be redeemed".into(),
            RedemptionCancelled => "the redemption is cancelled already".into(),
            LoyaltyProgramChanged => {
                "the loyalty program was changed by someone else meanwhile: read it again".into()
            }
            TicketClosed => "the ticket is closed: open a new one".into(),
            TicketNotSolved => "only a solved or closed ticket can be rated".into(),
            AlreadyRated => "the ticket has been rated already".into(),
            TicketChanged => "the ticket changed while this was being written; retry".into(),
            Transition(t) => t.to_string(),
            ConcurrentUpdate => "the resource is being changed concurrently; retry".into(),
            IdempotencyTakenOver => "this attempt outlived its hold on the Idempotency-Key and a \
                                     retry took it over; nothing was written by it"
                .into(),
            ApiKeyRevoked => "the API key is revoked and can no longer be changed".into(),
        }
    }

    /// For a refused status change: the statuses the ticket may move to now.
    pub fn allowed_statuses(&self) -> Option<Vec<TicketStatus>> {
        match self {
            Conflict::Transition(TransitionError::Illegal { from, .. }) => {
                Some(from.next().to_vec())
            }
            Conflict::Transition(TransitionError::ReopenWindowClosed { .. }) => {
                Some(vec![TicketStatus::Closed])
            }
            _ => None,
        }
    }

    /// The record that already holds what this write wanted.
    pub fn existing_id(&self) -> Option<uuid::Uuid> {
        match self {
            Conflict::DuplicateExternalRef { existing_id } => *existing_id,
            _ => None,
        }
    }

    /// Every code, for the document.
    pub const CODES: &'static [&'static str] = &[
        "customer_archived",
        "duplicate_external_ref",
        "duplicate_email",
        "duplicate_sla_policy",
        "purchase_total_overflow",
        "merge_self",
        "insufficient_points",
        "reward_out_of_stock",
        "reward_inactive",
        "redemption_cancelled",
        "loyalty_program_changed",
        "ticket_closed",
        "ticket_not_solved",
        "already_rated",
        "ticket_changed",
        "illegal_transition",
        "reopen_window_closed",
        "concurrent_update",
        "idempotency_in_progress",
        "api_key_revoked",
    ];
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}
