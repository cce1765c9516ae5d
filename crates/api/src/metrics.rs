//! Metrics in the Prometheus (OpenMetrics) text format, served on their own address
//! (`CRUST_METRICS_BIND`, off by default) so they are never reachable where the API
//! is: GraphQL requests and latency by operation, database pool use and outages,
//! rate-limit refusals, mail sent and failed, audit events appended.
//!
//! One set per process. Labels take only values this server names (root fields of its
//! own schema, its buckets and outcomes): nothing a client sends becomes a label, so no
//! one can grow the metrics without bound.

use std::collections::HashSet;
use std::sync::OnceLock;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::db::Db;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Operation {
    /// `query`, `mutation`, or `invalid` for a document that names no known field.
    pub kind: String,
    /// The first root field (known to the schema), or `other`.
    pub field: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub kind: String,
    pub field: String,
    /// `ok`, or the first error's code (UNAUTHENTICATED, INTERNAL …).
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Bucket {
    User,
    Anonymous,
    SignIn,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BucketLabel {
    pub bucket: Bucket,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum MailResult {
    Sent,
    Failed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MailLabel {
    pub result: MailResult,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<Outcome, Counter>,
    pub latency: Family<Operation, Histogram>,
    pub rate_limited: Family<BucketLabel, Counter>,
    pub db_unavailable: Counter,
    pub mail: Family<MailLabel, Counter>,
    audit_appended: Counter,
    pub password_hash_slots: Gauge,
    pub password_hash_waiting: Gauge,
    password_hash_peak: Gauge,
    peak: std::sync::atomic::AtomicI64,
    pool_connections: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
    known_fields: OnceLock<HashSet<String>>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("crust");
        let requests = Family::<Outcome, Counter>::default();
        registry.register(
            "graphql_requests",
            "GraphQL operations answered, by operation and outcome",
            requests.clone(),
        );
        let latency = Family::<Operation, Histogram>::new_with_constructor(|| {
            // 1 ms … about 33 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "graphql_request_duration_seconds",
            "Time to answer a GraphQL operation, by operation",
            latency.clone(),
        );
        let rate_limited = Family::<BucketLabel, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit, by bucket",
            rate_limited.clone(),
        );
        let db_unavailable = Counter::default();
        registry.register(
            "database_unavailable",
            "Database work refused because no connection could be had or it broke (answered 503)",
            db_unavailable.clone(),
        );
        let mail = Family::<MailLabel, Counter>::default();
        registry.register(
            "outbox_messages",
            "Outbox messages this process's mail worker sent or failed to send",
            mail.clone(),
        );
        let audit_appended = Counter::default();
        registry.register(
            "audit_events_appended",
            "Audit events this process appended",
            audit_appended.clone(),
        );
        let password_hash_slots = Gauge::default();
        registry.register(
            "password_hash_slots",
            "Password hashes that may run at once (CRUST_PASSWORD_HASH_CONCURRENCY)",
            password_hash_slots.clone(),
        );
        let password_hash_waiting = Gauge::default();
        registry.register(
            "password_hash_waiting",
            "Sign-ins and password changes waiting for a hashing slot",
            password_hash_waiting.clone(),
        );
        let password_hash_peak = Gauge::default();
        registry.register(
            "password_hash_peak_running",
            "The most password hashes that ran at once since the process started",
            password_hash_peak.clone(),
        );
        let pool_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Connections the pool holds (in use and idle)",
            pool_connections.clone(),
        );
        let pool_idle = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Idle connections in the pool",
            pool_idle.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The pool's size (CRUST_DB_POOL_SIZE)",
            pool_max.clone(),
        );
        // Every series that can exist is there from the start, at 0, so that a rate
        // over it is defined before the first event.
        for result in [MailResult::Sent, MailResult::Failed] {
            drop(mail.get_or_create(&MailLabel { result }));
        }
        for bucket in [Bucket::User, Bucket::Anonymous, Bucket::SignIn] {
            drop(rate_limited.get_or_create(&BucketLabel { bucket }));
        }
        Metrics {
            registry,
            requests,
            latency,
            rate_limited,
            db_unavailable,
            mail,
            audit_appended,
            password_hash_slots,
            password_hash_waiting,
            password_hash_peak,
            peak: std::sync::atomic::AtomicI64::new(0),
            pool_connections,
            pool_idle,
            pool_max,
            known_fields: OnceLock::new(),
        }
    }

    /// The root fields the schema has: the only field names labels may carry.
    pub fn know_fields(&self, fields: impl IntoIterator<Item = String>) {
        let _ = self.known_fields.set(fields.into_iter().collect());
    }

    /// The labels of an operation whose root fields are `fields` (as the document
    /// names them, unchecked).
    pub fn operation(&self, mutation: bool, fields: &[String]) -> Operation {
        let known = self
            .known_fields
            .get()
            .and_then(|k| fields.first().filter(|f| k.contains(f.as_str())));
        match known {
            Some(field) => Operation {
                kind: if mutation { "mutation" } else { "query" }.into(),
                field: field.clone(),
            },
            None => Operation {
                kind: "invalid".into(),
                field: "other".into(),
            },
        }
    }

    /// `now` password hashes run at once.
    pub fn hashes_running(&self, now: i64) {
        use std::sync::atomic::Ordering;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.password_hash_peak
            .set(self.peak.load(Ordering::SeqCst));
    }

    /// Records one answered operation.
    pub fn answered(&self, op: Operation, outcome: &str, seconds: f64) {
        self.latency.get_or_create(&op).observe(seconds);
        self.requests
            .get_or_create(&Outcome {
                kind: op.kind,
                field: op.field,
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The text a scrape gets, with the pool's gauges read now.
    pub fn render(&self, db: &Db) -> Result<String, std::fmt::Error> {
        let (connections, idle, max) = db.pool_usage();
        self.pool_connections.set(i64::from(connections));
        self.pool_idle.set(i64::from(idle));
        self.pool_max.set(i64::from(max));
        let appended = crust_dal::audit::appended_total();
        let seen = self.audit_appended.get();
        if appended > seen {
            self.audit_appended.inc_by(appended - seen);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
