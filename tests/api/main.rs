//! Black-box tests: the real application on a random port, driven over HTTP, every case on a
//! fresh SQLite file and on a fresh PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod analytics_cli;
mod api_keys;
mod auth;
mod crash;
mod customers;
mod errors;
mod errors_nul;
mod idempotency;
mod interactions;
mod loyalty;
mod merge;
mod openapi;
mod ops;
mod pagination;
mod scale_out;
mod seed_loyalty;
mod seed_tickets;
mod tickets;
mod transfer;
mod users;
