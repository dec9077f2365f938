//! The crate's error type: bad input or a model that cannot be fitted, never I/O.

use std::fmt;

/// Why an analytics call could not produce a result.
#[derive(Debug, Clone, PartialEq)]
pub enum AnalyticsError {
    /// An argument is outside its domain (negative rate, empty data, k larger than n, ...).
    InvalidInput(String),
    /// A streaming builder received a customer's purchases out of date order.
    OutOfOrder {
        /// Customer index whose purchases went back in time.
        customer: u32,
    },
    /// Too few data to fit a model (e.g. Gamma-Gamma with no repeat customers).
    NotEnoughData(String),
}

impl fmt::Display for AnalyticsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Self::OutOfOrder { customer } => write!(
                f,
                "purchases of customer #{customer} are not in date order (streaming summary needs per-customer date order)"
            ),
            Self::NotEnoughData(m) => write!(f, "not enough data: {m}"),
        }
    }
}

impl std::error::Error for AnalyticsError {}
