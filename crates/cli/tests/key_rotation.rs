//! Credential rotation: `crust keys rotate-jwt`, `rotate-pepper` and `status`, and the
//! key-age warning of `crust check --deploy`. Each rotation is deployed as printed and
//! shown to keep every user signed in while the old key is kept, then retired.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::process::Command;

use base64::Engine;
use crust_api::config::Secret;
use crust_e2e::{error_code, TestApp, TEST_JWT_SECRET, TEST_PASSWORD, TEST_PEPPER};
use serde_json::json;

fn crust_keys(envs: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_crust"))
        .arg("keys")
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The value of `NAME=value` in what a rotate command printed.
fn setting(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} not in:\n{out}"))
        .to_owned()
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn works(app: &TestApp, access: &str) -> bool {
    app.gql(Some(access), "{ me { id } }", json!({}))
        .await
        .get("errors")
        .is_none()
}

#[tokio::test]
async fn a_rotated_signing_key_keeps_tokens_valid_until_the_old_one_is_retired() {
    let mut app = TestApp::start().await;
    let user = app.user("user").await;
    assert_eq!(kid_of(&user.access), "k1");
    let (ok, out) = crust_keys(
        &[
            ("CRUST_JWT_SECRET", TEST_JWT_SECRET),
            ("CRUST_JWT_KID", "k1"),
        ],
        &["rotate-jwt"],
    );
    assert!(ok, "{out}");
    let kid = setting(&out, "CRUST_JWT_KID");
    let secret = setting(&out, "CRUST_JWT_SECRET");
    assert!(
        kid.starts_with("jwt-") && crust_api::keys::key_date(&kid).is_some(),
        "{kid}"
    );
    assert!(secret.len() >= 32 && secret != TEST_JWT_SECRET);
    assert!(
        setting(&out, "CRUST_JWT_PREVIOUS_KEYS").starts_with("k1="),
        "{out}"
    );
    assert!(out.contains("900 s") || out.contains("1800 s"), "{out}");
    assert!(
        !out.contains(TEST_JWT_SECRET),
        "the current secret is never printed"
    );

    // Deployed as printed: the new key signs, the old one still verifies.
    let (k, s) = (kid.clone(), secret.clone());
    app.restart_with(move |c| {
        c.auth.jwt_kid = k;
        c.auth.jwt_secret = Secret::new(s);
        c.auth.jwt_previous = HashMap::from([("k1".to_owned(), Secret::new(TEST_JWT_SECRET))]);
    });
    assert!(works(&app, &user.access).await, "an old token is refused");
    let refreshed = app.refresh(&user.refresh).await;
    let fresh = refreshed["data"]["refreshSession"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{refreshed}"))
        .to_owned();
    assert_eq!(kid_of(&fresh), kid);

    // Retired: tokens of the old key are refused, the new key's still work.
    let s = secret.clone();
    app.restart_with(move |c| {
        c.auth.jwt_secret = Secret::new(s);
        c.auth.jwt_previous = HashMap::new();
    });
    let body = app
        .gql(Some(&user.access), "{ me { id } }", json!({}))
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    assert!(works(&app, &fresh).await);
}

#[tokio::test]
async fn a_rotated_pepper_rehashes_each_account_at_its_next_sign_in() {
    let mut app = TestApp::start().await;
    let active = app.user("active").await;
    let dormant = app.user("dormant").await;
    let (ok, out) = crust_keys(
        &[("CRUST_PASSWORD_PEPPER", TEST_PEPPER)],
        &["rotate-pepper"],
    );
    assert!(ok, "{out}");
    let id = setting(&out, "CRUST_PASSWORD_PEPPER_ID");
    let pepper = setting(&out, "CRUST_PASSWORD_PEPPER");
    assert!(id.starts_with("pepper-") && pepper.len() >= 32, "{out}");
    assert!(setting(&out, "CRUST_PASSWORD_PREVIOUS_PEPPERS").starts_with("p1="));

    let (i, p) = (id.clone(), pepper.clone());
    app.restart_with(move |c| {
        c.auth.password_pepper_id = i;
        c.auth.password_pepper = Secret::new(p);
        c.auth.password_previous_peppers =
            HashMap::from([("p1".to_owned(), Secret::new(TEST_PEPPER))]);
    });
    let body = app.login(&active.email, TEST_PASSWORD).await;
    assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");
    let mut conn = app.db.connect();
    let hash = crust_e2e::db::texts(
        &mut conn,
        "SELECT password_hash AS v FROM users WHERE id = $1::uuid",
        &active.id,
    );
    assert!(
        hash[0].starts_with(&format!("{id}:")),
        "not rehashed: {hash:?}"
    );

    let previous = format!("p1={TEST_PEPPER}");
    let url = app.db.url.clone();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("CRUST_PASSWORD_PEPPER_ID", id.as_str()),
        ("CRUST_PASSWORD_PEPPER", pepper.as_str()),
        ("CRUST_PASSWORD_PREVIOUS_PEPPERS", previous.as_str()),
    ];
    let (ok, out) = crust_keys(&env, &["status"]);
    assert!(ok, "{out}");
    let line = |id: &str| {
        out.lines()
            .find(|l| l.starts_with("password pepper") && l.contains(id))
            .unwrap_or_else(|| panic!("{id} missing:\n{out}"))
            .to_owned()
    };
    assert!(
        line(&id).contains("hashes and checks, 1 account(s)"),
        "{out}"
    );
    assert!(line("p1").contains("checks only, 1 account(s)"), "{out}");

    // p1 retired: the account that signed in meanwhile still can, the dormant one
    // cannot (until it resets its password), and status says so.
    let (i, p) = (id.clone(), pepper.clone());
    app.restart_with(move |c| {
        c.auth.password_pepper_id = i;
        c.auth.password_pepper = Secret::new(p);
        c.auth.password_previous_peppers = HashMap::new();
    });
    assert!(app.login(&active.email, TEST_PASSWORD).await["data"]["login"].is_object());
    assert!(app.login(&dormant.email, TEST_PASSWORD).await["data"]["login"].is_null());
    let (ok, out) = crust_keys(&env[..3], &["status"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("1 account(s) hashed with pepper `p1`, which is not configured"),
        "{out}"
    );
}

#[test]
fn status_and_the_deploy_check_warn_about_old_keys() {
    let strong = "a-production-secret-of-more-than-32-bytes";
    let env = [
        ("CRUST_JWT_KID", "jwt-20250101-abcdef"),
        ("CRUST_JWT_SECRET", strong),
        (
            "CRUST_JWT_PREVIOUS_KEYS",
            "k1=another-production-secret-of-32-bytes+",
        ),
        ("CRUST_PASSWORD_PEPPER_ID", "pepper-29991231-000000"),
        ("CRUST_PASSWORD_PEPPER", strong),
        ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
    ];
    let (ok, out) = crust_keys(&env, &["status"]);
    assert!(ok, "{out}");
    let jwt = out
        .lines()
        .find(|l| l.contains("jwt-20250101-abcdef"))
        .unwrap();
    assert!(
        jwt.contains("signs and verifies") && jwt.contains("WARNING: over 90 days"),
        "{jwt}"
    );
    let old = out.lines().find(|l| l.contains(" k1 ")).unwrap();
    assert!(
        old.contains("verifies only") && !old.contains("WARNING"),
        "{old}"
    );
    let pepper = out.lines().find(|l| l.contains("pepper-29991231")).unwrap();
    assert!(!pepper.contains("WARNING"), "{pepper}");
    assert!(out.contains("accounts per pepper unknown"), "{out}");

    let out = Command::new(env!("CARGO_BIN_EXE_crust"))
        .args(["check", "--deploy"])
        .envs(env)
        .env("CRUST_KEY_MAX_AGE_DAYS", "30")
        // Pasted as printed, without filling in the old pepper.
        .env(
            "CRUST_PASSWORD_PREVIOUS_PEPPERS",
            "p1=<the current CRUST_PASSWORD_PEPPER>",
        )
        .env("CRUST_METRICS_BIND", "0.0.0.0:9464")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("WARNING CRUST_JWT_KID `jwt-20250101-abcdef` (token signing) is")
            && stdout
                .contains("over CRUST_KEY_MAX_AGE_DAYS = 30: rotate it (crust keys rotate-jwt)"),
        "{stdout}"
    );
    assert!(!stdout.contains("pepper-29991231"), "{stdout}");
    assert!(
        stdout.contains("SERIOUS CRUST_PASSWORD_PREVIOUS_PEPPERS holds a default or short pepper"),
        "{stdout}"
    );
    assert!(
        stdout.contains("CRUST_METRICS_BIND 0.0.0.0:9464 is not a loopback address"),
        "{stdout}"
    );
    assert!(
        stdout.contains("CRUST_FILE_KEY_ID") && stdout.contains("carries no date"),
        "{stdout}"
    );
}

#[test]
fn backup_key_makes_a_private_identity_whose_recipient_it_prints() {
    use std::os::unix::fs::PermissionsExt;
    use std::str::FromStr;
    let dir = std::env::temp_dir().join(format!(
        "crust-backup-key-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("backup.key");
    let (ok, out) = crust_keys(&[], &["backup-key", "--out", file.to_str().unwrap()]);
    assert!(ok, "{out}");
    let recipient = out
        .lines()
        .find_map(|l| l.strip_prefix("recipient: "))
        .unwrap()
        .to_owned();
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The identity opens what is encrypted to the printed recipient.
    let recipient = age::x25519::Recipient::from_str(&recipient).unwrap();
    let sealed = age::encrypt(&recipient, b"a backup").unwrap();
    let identities = age::IdentityFile::from_file(file.to_str().unwrap().to_owned())
        .unwrap()
        .into_identities()
        .unwrap();
    let mut opened = Vec::new();
    std::io::Read::read_to_end(
        &mut age::Decryptor::new(&sealed[..])
            .unwrap()
            .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .unwrap(),
        &mut opened,
    )
    .unwrap();
    assert_eq!(opened, b"a backup");
    // Never overwritten: the backups made for it would be lost.
    let (ok, out) = crust_keys(&[], &["backup-key", "--out", file.to_str().unwrap()]);
    assert!(!ok && out.contains("must not exist yet"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}
