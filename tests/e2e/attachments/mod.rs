//! Attachments end to end: uploads and downloads over real HTTP, the access rules, the
//! stored bytes (ciphertext only), tampering, and an S3-compatible store.

mod access;
mod crypto;
mod s3;
mod transfer;

use crust_e2e::scenario::Scenario;
use crust_e2e::{Session, TestApp};
use sha2::Digest;

/// An owner, their organization, a project the organization sees and one task in it.
pub async fn one_task(app: &TestApp) -> Scenario<'_> {
    Scenario::new(app)
        .await
        .with_project("ORGANIZATION", "CONFIDENTIAL")
        .await
        .with_task("CONFIDENTIAL")
        .await
}

/// A PNG signature, so the bytes after it are typed `image/png`.
pub const PNG_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

/// `len` bytes typed image/png, the rest pseudo-random (seeded).
pub fn png(len: usize, seed: u64) -> Vec<u8> {
    let mut out = PNG_HEAD.to_vec();
    let mut x = seed | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    sha2::Sha256::digest(bytes).to_vec()
}

/// The raw body, named in `?name=`.
pub async fn upload(
    app: &TestApp,
    who: &Session,
    task: &str,
    name: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.http
        .post(format!("{}/tasks/{task}/attachments", app.base))
        .query(&[("name", name)])
        .bearer_auth(&who.access)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// As a browser's `FormData` sends it: multipart/form-data, the file in part `file`.
pub async fn upload_form(
    app: &TestApp,
    who: &Session,
    task: &str,
    filename: &str,
    bytes: &[u8],
) -> reqwest::Response {
    let boundary = "----crust-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    app.http
        .post(format!("{}/tasks/{task}/attachments", app.base))
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .bearer_auth(&who.access)
        .body(body)
        .send()
        .await
        .unwrap()
}

pub async fn download(
    app: &TestApp,
    who: &Session,
    id: &str,
    range: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .get(format!("{}/attachments/{id}", app.base))
        .bearer_auth(&who.access);
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    req.send().await.unwrap()
}

/// Uploads and answers the new attachment's id (the upload must succeed).
pub async fn uploaded(
    app: &TestApp,
    who: &Session,
    task: &str,
    name: &str,
    body: Vec<u8>,
) -> String {
    let res = upload(app, who, task, name, body).await;
    let status = res.status();
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{json}");
    json["id"].as_str().unwrap().to_owned()
}

/// Every blob file the server stored (whatever the folder layout).
pub fn blobs(app: &TestApp) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&crust_e2e::files_dir(&app.db.url), &mut out);
    out.sort();
    out
}

/// One value of the database (`$1` bound to `arg`).
pub fn one(app: &TestApp, sql: &str, arg: &str) -> String {
    let mut conn = app.db.connect();
    crust_e2e::db::texts(&mut conn, sql, arg)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// How many rows `table` holds (as text, like [`one`]).
pub fn rows(app: &TestApp, table: &str) -> String {
    one(
        app,
        &format!("SELECT count(*)::text AS v FROM {table} WHERE $1 = $1"),
        "",
    )
}

/// The blob file of an attachment.
pub fn blob_of(app: &TestApp, id: &str) -> std::path::PathBuf {
    let key = one(
        app,
        "SELECT storage_key AS v FROM attachments WHERE id = $1::uuid",
        id,
    );
    assert!(!key.is_empty(), "no attachment {id}");
    crust_e2e::files_dir(&app.db.url).join(key)
}

/// Waits (up to 10 s) for `cond`.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !cond() {
        assert!(
            started.elapsed().as_secs() < 10,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
