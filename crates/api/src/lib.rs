//! Crust's API: the HTTP server (actix-web), the GraphQL schema (async-graphql),
//! authentication and configuration.
//!
//! It reaches the database only through `crust-dal`, and the rules only through
//! `crust-domain`. The `crust` binary (crate `crust-cli`) starts it.

pub mod audit;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod files;
pub mod gdpr;
pub mod graphql;
pub mod http;
pub mod keys;
pub mod live;
pub mod logging;
pub mod mail;
pub mod markdown;
pub mod memory;
pub mod metrics;
pub mod server;
pub mod state;
pub mod tls;

pub use config::{Config, Profile};
pub use server::RunningServer;
pub use state::AppState;
