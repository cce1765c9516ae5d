//! `crust keys rotate-files` re-wraps every attachment's data key under another master
//! key while the server keeps serving the files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crust_api::config::Secret;
use crust_e2e::TestApp;

const K1: &str = "b2xkLW1hc3Rlci1rZXktZm9yLXRlc3RzLTMyYnl0ZXM=";
const K2: &str = "bmV3LW1hc3Rlci1rZXktZm9yLXRlc3RzLTMyYnl0ZXM=";

fn crust_keys(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_crust"))
        .arg("keys")
        .args(args)
        .env("DATABASE_URL", url)
        .env("CRUST_FILE_KEY", K1)
        .env("CRUST_FILE_KEY_ID", "k1")
        .env("CRUST_FILE_PREVIOUS_KEYS", format!("k2={K2}"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn keys(
    active: &str,
    key: &str,
    previous: &[(&str, &str)],
) -> impl FnOnce(&mut crust_api::config::Config) {
    let (active, key) = (active.to_owned(), key.to_owned());
    let previous: HashMap<String, Secret> = previous
        .iter()
        .map(|(k, v)| (k.to_string(), Secret::new(*v)))
        .collect();
    move |c| {
        c.files.key_id = active;
        c.files.key = Secret::new(key);
        c.files.previous_keys = previous;
    }
}

#[tokio::test]
async fn rotation_rewraps_every_file_while_downloads_continue() {
    let mut app = TestApp::start_with(keys("k1", K1, &[("k2", K2)])).await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Acme").await;
    let project = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let task = app
        .create_task(&owner, &project, None, "CONFIDENTIAL")
        .await;
    let mut files = Vec::new();
    for i in 0..5u8 {
        let body: Vec<u8> = format!("file {i}: ")
            .bytes()
            .chain(std::iter::repeat_n(b'a' + i, 100_000))
            .collect();
        let res = app
            .http
            .post(format!(
                "{}/tasks/{task}/attachments?name=f{i}.txt",
                app.base
            ))
            .bearer_auth(&owner.access)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let id = res.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        files.push((id, body));
    }
    let (ok, out, err) = crust_keys(&app.db.url, &["files"]);
    assert!(ok, "{err}");
    assert!(out.contains("k1: 5 file(s)"), "{out}");

    // Downloads run all through the rotation.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let reader = {
        let (stop, served, failed) = (stop.clone(), served.clone(), failed.clone());
        let (http, base, token, files) = (
            app.http.clone(),
            app.base.clone(),
            owner.access.clone(),
            files.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                for (id, body) in &files {
                    let res = http
                        .get(format!("{base}/attachments/{id}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    let ok = res.status() == 200
                        && res.bytes().await.unwrap().as_ref() == body.as_slice();
                    let counter = if ok { &served } else { &failed };
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let url = app.db.url.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        crust_keys(&url, &["rotate-files", "--to", "k2", "--batch", "2"])
    })
    .await
    .unwrap();
    assert!(ok, "{out}{err}");
    assert!(out.contains("re-wrapped 5 file key(s) under `k2`"), "{out}");
    assert!(out.contains("every file is now under `k2`"), "{out}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    reader.await.unwrap();
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "downloads failed during the rotation"
    );
    assert!(served.load(Ordering::SeqCst) >= 10);
    let (_, out, _) = crust_keys(&app.db.url, &["files"]);
    assert!(
        out.contains("k2: 5 file(s)") && !out.contains("k1:"),
        "{out}"
    );
    // An unknown target key is refused before anything changes.
    let (ok, _, err) = crust_keys(&app.db.url, &["rotate-files", "--to", "k9"]);
    assert!(!ok && err.contains("no master key `k9`"), "{err}");

    // The old key is no longer needed: a server with only the new one serves every file.
    app.restart_with(keys("k2", K2, &[]));
    for (id, body) in &files {
        let res = app
            .http
            .get(format!("{}/attachments/{id}", app.base))
            .bearer_auth(&owner.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.bytes().await.unwrap().as_ref(), body.as_slice());
    }
    // And one with only the old key cannot open any: the data keys really were re-wrapped.
    app.restart_with(keys("k1", K1, &[]));
    let res = app
        .http
        .get(format!("{}/attachments/{}", app.base, files[0].0))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
}
