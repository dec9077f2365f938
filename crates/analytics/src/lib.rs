//! Rapport analytics: segmentation, customer lifetime value and attribution.
//!
//! Pure functions over slices: no I/O, no database, no HTTP. Plain values in, plain values out, so
//! every model can be tested and benchmarked alone and used from the CLI on CSV files.
//!
//! Money is integer minor units (`i64`) on the way in; model outputs that are expectations
//! (average spend, CLV, attributed value) are `f64` in the same minor units.
//!
//! | module | what |
//! | --- | --- |
//! | [`parse`] | byte-level parsers for transaction and path CSV text (pure: `&[u8]` in) |
//! | [`summary`] | transactions → frequency / recency / T / mean repeat spend, calibration–holdout |
//! | [`sharded`] | transactions CSV → calibration–holdout summaries, parsed and summed in parallel |
//! | [`rfm`] | RFM quintile scores and named segments |
//! | [`cluster`] | k-means (k-means++), silhouette, elbow |
//! | [`clv`] | historic CLV, and the predictive pipeline combining the two models below |
//! | [`bgnbd`] | BG/NBD (Fader, Hardie & Lee 2005a) |
//! | [`gamma_gamma`] | Gamma-Gamma spend model (Fader, Hardie & Lee 2005b) |
//! | [`attribution`] | first, last, linear, time decay, position, Markov chain, Shapley |
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod attribution;
pub mod bgnbd;
pub mod cluster;
pub mod clv;
mod error;
pub mod gamma_gamma;
pub mod optim;
pub mod parse;
pub mod rfm;
pub mod sharded;
pub mod special;
pub mod summary;

pub use error::AnalyticsError;

/// A calendar day: days since 1970-01-01 (UTC). See [`parse::days_from_civil`].
pub type Day = i32;

/// One purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transaction {
    /// Dense customer index (`0..n`); the caller keeps the mapping to its own ids
    /// ([`parse::CustomerIds`] does that for CSV input).
    pub customer: u32,
    /// Day of the purchase.
    pub day: Day,
    /// Amount in integer minor units (cents); refunds may be negative.
    pub amount: i64,
}
