//! The `rapport` binary's library: configuration, start-up and the CLI commands. `main.rs` only
//! calls [`cli::main`]; tests build the same [`startup::Application`] on port 0.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod analytics_cmd;
pub mod cli;
pub mod config;
pub mod seed;
pub mod startup;
pub mod telemetry;
pub mod transfer_cmd;
