use super::*;
use serde_json::json;

#[test]
fn secrets_are_redacted_at_any_depth_and_in_any_case() {
    let sent = json!({
        "input": {
            "email": "a@example.com",
            "Password": "hunter2hunter2",
            "nested": [{"refreshToken": "abc", "keep": 1}, {"x": {"AUTHORIZATION": {"a": 1}}}],
            "clientSecret": 42,
            "sessionCookie": null,
            "title": "password reset plan"
        }
    });
    let out = redact(sent);
    assert_eq!(out["input"]["email"], "a@example.com");
    assert_eq!(out["input"]["Password"], REDACTED);
    assert_eq!(out["input"]["nested"][0]["refreshToken"], REDACTED);
    assert_eq!(out["input"]["nested"][0]["keep"], 1);
    assert_eq!(out["input"]["nested"][1]["x"]["AUTHORIZATION"], REDACTED);
    assert_eq!(out["input"]["clientSecret"], REDACTED);
    assert_eq!(out["input"]["sessionCookie"], REDACTED);
    // Values are not keys: a title that mentions a password is kept.
    assert_eq!(out["input"]["title"], "password reset plan");
    let text = out.to_string();
    assert!(!text.contains("hunter2") && !text.contains("abc"));
}

fn content<'a>(digest: &'a [u8; 32]) -> EventContent<'a> {
    EventContent {
        id: Uuid::from_u128(1),
        chain: GLOBAL_CHAIN,
        seq: 1,
        occurred_at: DateTime::from_timestamp_micros(1_700_000_000_000_001).unwrap_or_default(),
        action: "login",
        outcome: "ok",
        error_code: None,
        reason: None,
        actor_id: Some(Uuid::from_u128(2)),
        session_id: None,
        subject_user_id: None,
        organization_id: None,
        target_type: None,
        target_id: None,
        need_to_know: false,
        variables: Some("{}"),
        request_id: Some("r"),
        ip_digest: digest,
        user_agent_digest: digest,
        need_to_know_ids: &[],
    }
}

#[test]
fn every_field_and_the_previous_hash_change_the_hash() {
    let d = client_digest(b"salt", Some("203.0.113.9"));
    let base = content(&d);
    let h = chain_hash(&GENESIS, &base);
    assert_eq!(h, chain_hash(&GENESIS, &base), "deterministic");
    assert_ne!(h, chain_hash(&[1; 32], &base));
    let other = client_digest(b"salt", Some("203.0.113.10"));
    let named = [Uuid::from_u128(3)];
    let variants = [
        EventContent {
            seq: 2,
            ..base.clone()
        },
        EventContent {
            action: "logout",
            ..base.clone()
        },
        EventContent {
            outcome: "forbidden",
            ..base.clone()
        },
        EventContent {
            actor_id: None,
            ..base.clone()
        },
        EventContent {
            session_id: Some(Uuid::from_u128(2)),
            ..base.clone()
        },
        EventContent {
            need_to_know: true,
            ..base.clone()
        },
        EventContent {
            variables: Some("{\"a\":1}"),
            ..base.clone()
        },
        EventContent {
            variables: None,
            ..base.clone()
        },
        EventContent {
            request_id: Some("s"),
            ..base.clone()
        },
        EventContent {
            ip_digest: &other,
            ..base.clone()
        },
        EventContent {
            need_to_know_ids: &named,
            ..base.clone()
        },
        // Moving bytes between neighbouring fields changes it too.
        EventContent {
            error_code: Some(""),
            ..base.clone()
        },
    ];
    for v in variants {
        assert_ne!(h, chain_hash(&GENESIS, &v), "{v:?}");
    }
}

#[test]
fn client_digests_depend_on_salt_and_value() {
    let a = client_digest(b"s1", Some("x"));
    assert_ne!(a, client_digest(b"s2", Some("x")));
    assert_ne!(a, client_digest(b"s1", Some("y")));
    assert_ne!(client_digest(b"s1", None), client_digest(b"s1", Some("")));
}

#[test]
fn large_data_is_kept_whole_up_to_the_limit_and_then_summarized() {
    let small = serde_json::json!({ "a": "x".repeat(100) }).to_string();
    assert_eq!(bounded(small.clone()), small);
    let big = serde_json::json!({ "a": "y".repeat(MAX_VARIABLES_BYTES) }).to_string();
    let out: Value = serde_json::from_str(&bounded(big.clone())).unwrap_or_default();
    assert_eq!(out["truncated"], true);
    assert_eq!(out["bytes"], big.len());
    assert_eq!(out["sha256"].as_str().map(str::len), Some(64));
    assert!(bounded(big).len() < MAX_VARIABLES_BYTES);
}

#[test]
fn outcomes_follow_error_codes() {
    assert_eq!(Outcome::of_error_code("NOT_FOUND"), Outcome::Forbidden);
    assert_eq!(
        Outcome::of_error_code("UNAUTHENTICATED"),
        Outcome::Forbidden
    );
    assert_eq!(Outcome::of_error_code("CONFLICT"), Outcome::Invalid);
    assert_eq!(Outcome::of_error_code("BAD_USER_INPUT"), Outcome::Invalid);
    assert_eq!(Outcome::of_error_code("INTERNAL"), Outcome::Error);
}

#[test]
fn task_reads_are_recorded_exactly_when_the_task_is_need_to_know() {
    use TaskRead::*;
    // (task SECRET, project served and SECRET?, found plain) → decision
    let table = [
        ((true, None, false), Record),
        ((true, Some(false), false), Record),
        ((true, Some(true), true), Record),
        ((false, Some(true), false), Record),
        ((false, Some(true), true), Record),
        ((false, Some(false), false), Skip),
        ((false, None, true), Skip),
        ((false, None, false), AskProject),
    ];
    for ((secret, project, plain), expected) in table {
        assert_eq!(
            task_read(secret, project, plain),
            expected,
            "{secret} {project:?} {plain}"
        );
    }
}
