//! Blobs in an S3-compatible object store: moto's server (PyPI), on loopback.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crust_e2e::TestApp;
use serde_json::json;

use super::*;

struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_moto() -> Moto {
    let python = crust_e2e::peers::venv("moto", &["moto[server]==5.2.5"]);
    let port = free_port();
    let child = Command::new(python)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start moto");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "moto did not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto { child, port }
}

#[tokio::test]
async fn an_s3_compatible_store_holds_ciphertext_only_and_loses_deleted_files() {
    let moto = start_moto();
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let http = reqwest::Client::new();
    // moto accepts unsigned requests: make the bucket, read objects back directly.
    let made = http
        .put(format!("{endpoint}/crust-files"))
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{}", made.status());
    let e = endpoint.clone();
    let app = TestApp::start_with(move |c| {
        c.files.store = Some("s3://crust-files/tenant-files".into());
        c.files.s3_endpoint = Some(e);
        c.files.s3_access_key_id = Some("testing".into());
        c.files.s3_secret_access_key = Some(crust_api::config::Secret::new("testing"));
    })
    .await;
    let w = one_task(&app).await;
    let text = "Merger talks with Globex start Monday. ".repeat(5000);
    let id = uploaded(
        &app,
        &w.owner,
        w.task_id(),
        "m.txt",
        text.clone().into_bytes(),
    )
    .await;
    let got = download(&app, &w.owner, &id, None).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.unwrap(), text);
    let part = download(&app, &w.owner, &id, Some("bytes=70000-70099")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.text().await.unwrap(), text[70000..70100]);
    // Nothing was written to the local folder.
    assert!(blobs(&app).is_empty());

    let key = one(
        &app,
        "SELECT storage_key AS v FROM attachments WHERE id = $1::uuid",
        &id,
    );
    let object = format!("{endpoint}/crust-files/tenant-files/{key}");
    let stored = http.get(&object).send().await.unwrap();
    assert_eq!(stored.status(), 200);
    let stored = stored.bytes().await.unwrap();
    assert_eq!(stored.len(), text.len() + 16 * text.len().div_ceil(65536));
    assert!(
        !stored.windows(6).any(|w| w == b"Merger"),
        "plaintext in the object store"
    );

    app.ok(
        &w.owner,
        "mutation($a: ID!) { deleteAttachment(input: {attachmentId: $a}) { deletedAttachmentId } }",
        json!({ "a": id }),
    )
    .await;
    let started = Instant::now();
    loop {
        let status = http.get(&object).send().await.unwrap().status();
        if status == 404 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the object is still there: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
