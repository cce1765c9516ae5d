//! The audit log's rules: what an event's outcome is, which request data is secret,
//! and how events are chained into a tamper-evident hash chain.
//!
//! The hash of an event covers its content and the previous event's hash. The client
//! IP and user agent enter only through salted digests: pruning replaces them (and
//! drops the salt) while the digests, and so the chain, stay as they were.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The chain of events that belong to no organization (sign-ins, sessions, refusals
/// whose target is unknown).
pub const GLOBAL_CHAIN: Uuid = Uuid::nil();

/// What replaces a secret value in recorded request data.
pub const REDACTED: &str = "[REDACTED]";

/// The hash a chain starts from.
pub const GENESIS: [u8; 32] = [0; 32];

/// How a recorded action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Refused for who the caller is: unauthenticated, forbidden, not found, rate limited.
    Forbidden,
    /// Refused for what was sent: bad input or a conflict.
    Invalid,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Forbidden => "forbidden",
            Outcome::Invalid => "invalid",
            Outcome::Error => "error",
        }
    }

    /// The outcome of a refusal with this GraphQL error code.
    pub fn of_error_code(code: &str) -> Outcome {
        match code {
            "UNAUTHENTICATED" | "FORBIDDEN" | "NOT_FOUND" | "RATE_LIMITED" => Outcome::Forbidden,
            "BAD_USER_INPUT" | "CONFLICT" => Outcome::Invalid,
            _ => Outcome::Error,
        }
    }
}

/// Does this key name a secret? Any key containing one of these words, in any case.
pub fn is_secret_key(key: &str) -> bool {
    const WORDS: [&str; 5] = ["password", "token", "secret", "authorization", "cookie"];
    let key = key.to_lowercase();
    WORDS.iter().any(|w| key.contains(w))
}

/// The value with every secret-named key's value, at any depth, replaced by
/// [`REDACTED`] (whatever its type, so neither length nor shape shows).
pub fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(&k) {
                        Value::String(REDACTED.into())
                    } else {
                        redact(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

/// The most of a request's (redacted) data an event keeps.
pub const MAX_VARIABLES_BYTES: usize = 16 * 1024;

/// The recorded form of a request's redacted data: whole when it fits in
/// [`MAX_VARIABLES_BYTES`]; otherwise a note saying so, with its size, its SHA-256 and
/// its start — never cut silently, never unbounded (anyone may send a large body).
pub fn bounded(json: String) -> String {
    if json.len() <= MAX_VARIABLES_BYTES {
        return json;
    }
    let digest = hex(&Sha256::digest(json.as_bytes()));
    let start: String = json.chars().take(4096).collect();
    serde_json::json!({
        "truncated": true,
        "bytes": json.len(),
        "sha256": digest,
        "start": start,
    })
    .to_string()
}

/// Lower-case hex, as hashes are shown and exported.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The salted digest under which a client detail (IP or user agent) enters the hash.
pub fn client_digest(salt: &[u8], value: Option<&str>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"crust-audit-client-v1");
    h.update((salt.len() as u32).to_be_bytes());
    h.update(salt);
    match value {
        Some(v) => {
            h.update([1]);
            h.update(v.as_bytes());
        }
        None => h.update([0]),
    }
    h.finalize().into()
}

/// Everything of an event that its hash covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventContent<'a> {
    pub id: Uuid,
    pub chain: Uuid,
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub action: &'a str,
    pub outcome: &'a str,
    pub error_code: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub actor_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub subject_user_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub target_type: Option<&'a str>,
    pub target_id: Option<Uuid>,
    pub need_to_know: bool,
    pub variables: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub ip_digest: &'a [u8],
    pub user_agent_digest: &'a [u8],
    /// Every need-to-know object the event names (target and arguments alike).
    pub need_to_know_ids: &'a [Uuid],
}

/// The link hash: SHA-256 over the previous hash and each field, length-prefixed so
/// that no two different events encode alike. Times count in microseconds (what
/// PostgreSQL keeps).
pub fn chain_hash(prev: &[u8], e: &EventContent<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"crust-audit-v1");
    field(&mut h, Some(prev));
    field(&mut h, Some(e.id.as_bytes()));
    field(&mut h, Some(e.chain.as_bytes()));
    field(&mut h, Some(&e.seq.to_be_bytes()));
    field(
        &mut h,
        Some(&e.occurred_at.timestamp_micros().to_be_bytes()),
    );
    field(&mut h, Some(e.action.as_bytes()));
    field(&mut h, Some(e.outcome.as_bytes()));
    field(&mut h, e.error_code.map(str::as_bytes));
    field(&mut h, e.reason.map(str::as_bytes));
    for id in [
        e.actor_id,
        e.session_id,
        e.subject_user_id,
        e.organization_id,
    ] {
        field(&mut h, id.as_ref().map(|u| u.as_bytes().as_slice()));
    }
    field(&mut h, e.target_type.map(str::as_bytes));
    field(
        &mut h,
        e.target_id.as_ref().map(|u| u.as_bytes().as_slice()),
    );
    field(&mut h, Some(&[u8::from(e.need_to_know)]));
    field(&mut h, e.variables.map(str::as_bytes));
    field(&mut h, e.request_id.map(str::as_bytes));
    field(&mut h, Some(e.ip_digest));
    field(&mut h, Some(e.user_agent_digest));
    // Hashed only when there are some, so events written before the field existed
    // (and events that name nothing need-to-know) keep their hashes.
    if !e.need_to_know_ids.is_empty() {
        let ids: Vec<u8> = e
            .need_to_know_ids
            .iter()
            .flat_map(|u| *u.as_bytes())
            .collect();
        field(&mut h, Some(&ids));
    }
    h.finalize().into()
}

fn field(h: &mut Sha256, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => {
            h.update([1]);
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        }
        None => h.update([0]),
    }
}

/// What the audit record of a request needs for one task it served (the need-to-know
/// read policy: a `read` event for every need-to-know object served).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskRead {
    /// The task is need-to-know: record the read.
    Record,
    /// It is not: nothing to record.
    Skip,
    /// Its own classification is not SECRET, and its project's is not known: ask.
    AskProject,
}

/// `task_secret`: the task itself is SECRET. `project_secret`: its project's
/// classification, if the request served the project too. `known_plain`: a mutation of
/// this request already found the task not need-to-know.
pub fn task_read(task_secret: bool, project_secret: Option<bool>, known_plain: bool) -> TaskRead {
    match (task_secret, project_secret) {
        (true, _) | (false, Some(true)) => TaskRead::Record,
        (false, Some(false)) => TaskRead::Skip,
        (false, None) if known_plain => TaskRead::Skip,
        (false, None) => TaskRead::AskProject,
    }
}

#[cfg(test)]
mod tests;
