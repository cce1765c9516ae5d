//! End-to-end tests: the real server over real HTTP on a fresh database per test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod abuse;
mod acl;
mod ahead;
mod architecture;
pub(crate) mod attachments;
mod audit;
mod auth;
mod bi;
mod browser;
mod comments;
mod dependencies;
mod documents;
pub(crate) mod hidden;
mod http;
mod limits;
mod live;
mod logs;
mod mail;
mod metrics;
mod migrations;
mod need_to_know;
mod nested;
mod operations;
mod over_http;
mod owners;
pub(crate) mod plain;
mod recipes;
mod refusals;
mod rollups;
mod rows;
mod schema;
mod search;
mod spa;
mod statements;
mod structure;
mod tasks;
mod tenant;
mod tls;
mod tokens;
