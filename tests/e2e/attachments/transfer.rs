//! Uploads and downloads: round trips, limits while reading, slow senders, types,
//! names, ranges, quotas.

use std::io::{Read, Write};
use std::time::Duration;

use crust_e2e::scenario::Scenario;
use crust_e2e::TestApp;
use serde_json::json;

use super::*;

#[tokio::test]
async fn a_binary_file_round_trips_byte_for_byte_as_raw_body_and_as_a_form() {
    let app = TestApp::start().await;
    let w = one_task(&app).await;
    let task = w.task_id().to_owned();
    // Three chunks and a bit: chunk boundaries are crossed.
    let bytes = png(3 * 65536 + 123, 7);
    let id = uploaded(&app, &w.owner, &task, "plan.png", bytes.clone()).await;
    let res = download(&app, &w.owner, &id, None).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["content-length"], bytes.len().to_string().as_str());
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "private, no-store");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox"));
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"plan.png\"; filename*=UTF-8''plan.png"
    );
    let got = res.bytes().await.unwrap();
    assert_eq!(got.len(), bytes.len());
    assert_eq!(sha256(&got), sha256(&bytes));

    // The browser's way: multipart/form-data, with another part before the file.
    let small = png(1000, 9);
    let res = upload_form(&app, &w.owner, &task, "form.png", &small).await;
    assert_eq!(res.status(), 201);
    let created: serde_json::Value = res.json().await.unwrap();
    assert_eq!(created["name"], "form.png");
    assert_eq!(created["size"], 1000);
    let got = download(&app, &w.owner, created["id"].as_str().unwrap(), None)
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), small.as_slice());

    // An empty file is a file too.
    let res = upload(&app, &w.owner, &task, "empty.txt", Vec::new()).await;
    assert_eq!(res.status(), 201);
    let empty: serde_json::Value = res.json().await.unwrap();
    let res = download(&app, &w.owner, empty["id"].as_str().unwrap(), None).await;
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap().is_empty());

    // GraphQL lists them on the task, oldest first.
    let d = app
        .ok(
            &w.owner,
            "query($t: ID!) { task(id: $t) { attachments { totalCount nodes { id name size contentType downloadUrl createdAt uploader { email } } } } }",
            json!({ "t": task }),
        )
        .await;
    let list = &d["task"]["attachments"];
    assert_eq!(list["totalCount"], 3, "{d}");
    let first = &list["nodes"][0];
    assert_eq!(first["id"], id.as_str());
    assert_eq!(first["name"], "plan.png");
    assert_eq!(first["size"], bytes.len());
    assert_eq!(first["contentType"], "image/png");
    assert_eq!(first["downloadUrl"], format!("/attachments/{id}"));
    assert_eq!(first["uploader"]["email"], w.owner.email.as_str());
}

/// Opens a connection and sends the head of an upload request by hand: the request
/// line for `target` (path and query), the token and `headers` (each ending in CRLF).
fn raw_head(app: &TestApp, token: &str, target: &str, headers: &str) -> std::net::TcpStream {
    let addr = app.base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n{headers}\r\n"
    )
    .unwrap();
    s
}

/// The first answer on a connection (head and the start of the body).
fn answer(s: &mut std::net::TcpStream) -> String {
    let mut buf = vec![0u8; 8192];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Sends a request by hand: the headers, then `total` bytes of body from another
/// thread, while this one waits for the answer. Answers the response (head and body)
/// and how much of the body had been sent when it arrived.
fn raw_upload(
    app: &TestApp,
    token: &str,
    task: &str,
    declared: Option<u64>,
    total: usize,
) -> (String, usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let length = match declared {
        Some(n) => format!("Content-Length: {n}\r\n"),
        None => "Transfer-Encoding: chunked\r\n".into(),
    };
    let mut s = raw_head(
        app,
        token,
        &format!("/tasks/{task}/attachments?name=big.png"),
        &length,
    );
    let sent = Arc::new(AtomicUsize::new(0));
    let mut w = s.try_clone().unwrap();
    let counter = sent.clone();
    let chunked = declared.is_none();
    let writer = std::thread::spawn(move || {
        let piece = super::png(64 * 1024, 3);
        while counter.load(Ordering::SeqCst) < total {
            let r = if chunked {
                w.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                    .and_then(|_| w.write_all(&piece))
                    .and_then(|_| w.write_all(b"\r\n"))
            } else {
                w.write_all(&piece)
            };
            if r.is_err() {
                break; // the server closed the connection
            }
            counter.fetch_add(piece.len(), Ordering::SeqCst);
            // Paced (about 30 MB/s), so that what the kernel buffers does not hide
            // when the answer came.
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let text = answer(&mut s);
    let at_answer = sent.load(Ordering::SeqCst);
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    (text, at_answer)
}

#[tokio::test]
async fn the_size_limit_holds_to_the_byte_and_a_larger_upload_is_cut_off_leaving_nothing() {
    let max = 300_000;
    let app = TestApp::start_with(|c| c.files.max_upload_bytes = max).await;
    let w = one_task(&app).await;
    let task = w.task_id().to_owned();
    let res = upload(&app, &w.owner, &task, "max.png", png(max as usize, 1)).await;
    assert_eq!(res.status(), 201);
    assert_eq!(blobs(&app).len(), 1);

    let res = upload(&app, &w.owner, &task, "over.png", png(max as usize + 1, 2)).await;
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("300000 bytes"), "{message}");

    // Streamed without a length (chunked): cut off with 413 once past the limit, while
    // the client is still sending the 50 MB it meant to.
    let (status, sent) = raw_upload(&app, &w.owner.access, &task, None, 50 * 1024 * 1024);
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert!(
        sent < 25 * 1024 * 1024,
        "the answer came after {sent} bytes"
    );
    // Declared too large: refused before the body is read.
    let (status, sent) = raw_upload(
        &app,
        &w.owner.access,
        &task,
        Some(50 * 1024 * 1024),
        50 * 1024 * 1024,
    );
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert!(
        sent < 25 * 1024 * 1024,
        "the answer came after {sent} bytes"
    );

    // Nothing of the refused uploads remains: one blob, one row, no reservation.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(blobs(&app).len(), 1, "{:?}", blobs(&app));
    assert_eq!(rows(&app, "attachments"), "1");
    assert_eq!(rows(&app, "blob_purges"), "0");
}

#[tokio::test]
async fn a_slow_uploader_is_dropped_by_the_timeout() {
    let app = TestApp::start_with(|c| c.files.upload_idle_timeout_secs = 1).await;
    let w = one_task(&app).await;
    let mut s = begin_raw(&app, &w.owner.access, w.task_id(), 100_000, &png(20_000, 4));
    let started = std::time::Instant::now();
    let text = answer(&mut s);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(text.contains("too slow"), "{text}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(blobs(&app).is_empty(), "{:?}", blobs(&app));
    assert_eq!(rows(&app, "blob_purges"), "0");
}

#[tokio::test]
async fn types_come_from_the_bytes_and_markup_is_only_ever_a_download() {
    let app = TestApp::start().await;
    let w = one_task(&app).await;
    let task = w.task_id().to_owned();
    let eicar = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*".to_vec();
    let cases: [(&str, Vec<u8>, &str, &str); 4] = [
        // (name claimed, bytes, type detected, type served)
        ("page.html", b"<!DOCTYPE html><script>alert(document.cookie)</script>".to_vec(), "text/html", "application/octet-stream"),
        ("logo.svg", b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>".to_vec(), "image/svg+xml", "application/octet-stream"),
        // A name that lies about the content changes nothing.
        ("photo.png", b"<html><body onload=alert(1)>".to_vec(), "text/html", "application/octet-stream"),
        ("eicar.com", eicar, "text/plain", "text/plain; charset=utf-8"),
    ];
    for (name, bytes, detected, served) in cases {
        let res = upload(&app, &w.owner, &task, name, bytes.clone()).await;
        assert_eq!(res.status(), 201, "{name}");
        let created: serde_json::Value = res.json().await.unwrap();
        assert_eq!(created["contentType"], detected, "{name}");
        let res = download(&app, &w.owner, created["id"].as_str().unwrap(), None).await;
        let h = res.headers().clone();
        assert_eq!(h["content-type"], served, "{name}");
        assert!(h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox"));
        assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }

    // A type off the allow list is refused with what is accepted, and leaves nothing.
    let strict = TestApp::start_with(|c| c.files.upload_types = vec!["image/*".into()]).await;
    let w = one_task(&strict).await;
    let res = upload(
        &strict,
        &w.owner,
        w.task_id(),
        "notes.png",
        b"just text".to_vec(),
    )
    .await;
    assert_eq!(res.status(), 415);
    let body: serde_json::Value = res.json().await.unwrap();
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("text/plain") && message.contains("image/*"),
        "{message}"
    );
    let res = upload(
        &strict,
        &w.owner,
        w.task_id(),
        "x.exe",
        b"MZ\x90\0\x03\0\0\0".to_vec(),
    )
    .await;
    assert_eq!(res.status(), 415);
    assert!(blobs(&strict).is_empty());
    assert!(
        upload(&strict, &w.owner, w.task_id(), "ok.png", png(500, 1))
            .await
            .status()
            == 201
    );
}

#[tokio::test]
async fn names_lose_paths_line_breaks_and_bidi_overrides_and_are_bounded() {
    let app = TestApp::start().await;
    let w = one_task(&app).await;
    let task = w.task_id().to_owned();
    let long = format!("{}.png", "ä".repeat(1000));
    let cases: Vec<(String, String)> = vec![
        ("../../../etc/passwd".into(), "passwd".into()),
        ("..\\..\\windows\\win.ini".into(), "win.ini".into()),
        (
            "report\r\nSet-Cookie: a=b.png".into(),
            "reportSet-Cookie: a=b.png".into(),
        ),
        // The override goes; the `.exe` it hid holds an image, so it says so.
        ("invoice\u{202E}gnp.exe".into(), "invoicegnp.exe.png".into()),
        ("..".into(), "attachment".into()),
    ];
    for (sent, stored) in cases {
        let res = upload(&app, &w.owner, &task, &sent, png(100, 1)).await;
        assert_eq!(res.status(), 201, "{sent:?}");
        let created: serde_json::Value = res.json().await.unwrap();
        assert_eq!(created["name"], stored.as_str(), "{sent:?}");
        let res = download(&app, &w.owner, created["id"].as_str().unwrap(), None).await;
        let cd = res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            !cd.contains('\r') && !cd.contains('\n') && !cd.contains('/'),
            "{cd}"
        );
        assert!(cd.starts_with("attachment; filename=\""), "{cd}");
    }
    let res = upload(&app, &w.owner, &task, &long, png(100, 1)).await;
    let created: serde_json::Value = res.json().await.unwrap();
    let name = created["name"].as_str().unwrap();
    assert_eq!(name.chars().count(), 200);
    assert!(name.ends_with(".png"));
    let res = download(&app, &w.owner, created["id"].as_str().unwrap(), None).await;
    let cd = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    // The exact name travels percent-encoded (RFC 5987), the fallback in ASCII.
    assert!(cd.contains("filename*=UTF-8''%C3%A4%C3%A4"), "{cd}");
    assert!(cd.is_ascii());
}

#[tokio::test]
async fn ranges_serve_exact_slices_across_chunk_boundaries() {
    let app = TestApp::start().await;
    let w = one_task(&app).await;
    let bytes = png(200_000, 11);
    let id = uploaded(&app, &w.owner, w.task_id(), "r.png", bytes.clone()).await;
    let size = bytes.len();
    for (range, lo, hi) in [
        ("bytes=0-99", 0, 100),
        ("bytes=65530-65545", 65530, 65546),
        ("bytes=131000-", 131000, size),
        ("bytes=-10", size - 10, size),
        ("bytes=199990-300000", 199990, size),
    ] {
        let res = download(&app, &w.owner, &id, Some(range)).await;
        assert_eq!(res.status(), 206, "{range}");
        assert_eq!(
            res.headers()["content-range"],
            format!("bytes {lo}-{}/{size}", hi - 1).as_str()
        );
        assert_eq!(
            res.bytes().await.unwrap().as_ref(),
            &bytes[lo..hi],
            "{range}"
        );
    }
    let served = one(
        &app,
        "SELECT count(*)::text AS v FROM audit_events WHERE action = $1",
        "downloadAttachment",
    );
    let res = download(&app, &w.owner, &id, Some("bytes=200000-")).await;
    assert_eq!(res.status(), 416);
    assert_eq!(
        one(
            &app,
            "SELECT count(*)::text AS v FROM audit_events WHERE action = $1",
            "downloadAttachment"
        ),
        served,
        "nothing was served: nothing is recorded as downloaded"
    );
    assert_eq!(res.headers()["content-range"], "bytes */200000");
    // Several ranges: the whole file (allowed by RFC 9110).
    let res = download(&app, &w.owner, &id, Some("bytes=0-1,5-6")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().len(), size);
}

#[tokio::test]
async fn the_organization_quota_is_enforced_with_what_is_left() {
    let app = TestApp::start_with(|c| c.files.org_quota_bytes = 250_000).await;
    let w = one_task(&app).await;
    let task = w.task_id().to_owned();
    assert_eq!(
        upload(&app, &w.owner, &task, "a.png", png(200_000, 1))
            .await
            .status(),
        201
    );
    for declared in [true, false] {
        let res = if declared {
            upload(&app, &w.owner, &task, "b.png", png(60_000, 2)).await
        } else {
            // Without a declared length: cut off while reading.
            let (text, _) = raw_upload(&app, &w.owner.access, &task, None, 64 * 1024);
            assert!(text.starts_with("HTTP/1.1 413"), "{text}");
            assert!(text.contains("50000 bytes) left"), "{text}");
            continue;
        };
        assert_eq!(res.status(), 413);
        let body: serde_json::Value = res.json().await.unwrap();
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("quota") && message.contains("50000 bytes) left"),
            "{message}"
        );
    }
    assert_eq!(
        upload(&app, &w.owner, &task, "c.png", png(50_000, 3))
            .await
            .status(),
        201
    );
    assert_eq!(blobs(&app).len(), 2);
}

#[tokio::test]
async fn a_form_that_never_frames_its_parts_is_cut_off_too() {
    // Part headers that never end, sent without a length: what the multipart parser
    // would buffer is counted like file bytes.
    let app = TestApp::start_with(|c| c.files.max_upload_bytes = 300_000).await;
    let w = one_task(&app).await;
    let mut s = raw_head(
        &app,
        &w.owner.access,
        &format!("/tasks/{}/attachments", w.task_id()),
        "Content-Type: multipart/form-data; boundary=X\r\nTransfer-Encoding: chunked\r\n",
    );
    let mut w2 = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let head = b"--X\r\nContent-Disposition: form-data; name=\"a\"\r\nA: ".to_vec();
        let _ = w2.write_all(format!("{:x}\r\n", head.len()).as_bytes());
        let _ = w2.write_all(&head);
        let _ = w2.write_all(b"\r\n");
        let piece = vec![b'A'; 64 * 1024];
        for _ in 0..200 {
            let r = w2
                .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                .and_then(|_| w2.write_all(&piece))
                .and_then(|_| w2.write_all(b"\r\n"));
            if r.is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let text = answer(&mut s);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    assert!(blobs(&app).is_empty());
}

/// Starts an upload by hand: its headers and `first` of the body; the rest is for
/// [`finish_raw`].
fn begin_raw(
    app: &TestApp,
    token: &str,
    task: &str,
    length: usize,
    first: &[u8],
) -> std::net::TcpStream {
    let mut s = raw_head(
        app,
        token,
        &format!("/tasks/{task}/attachments?name=slow.png"),
        &format!("Content-Length: {length}\r\n"),
    );
    s.write_all(first).unwrap();
    s
}

/// Sends the rest of a hand-made upload and reads the answer.
fn finish_raw(mut s: std::net::TcpStream, rest: &[u8]) -> String {
    s.write_all(rest).unwrap();
    answer(&mut s)
}

#[tokio::test]
async fn uploads_running_at_once_are_bounded_per_user() {
    let app = TestApp::start_with(|c| c.files.uploads_per_user = 1).await;
    let w = Scenario::new(&app)
        .await
        .with_project("ORGANIZATION", "CONFIDENTIAL")
        .await
        .with_project_member("other", "EDITOR")
        .await
        .with_task("CONFIDENTIAL")
        .await;
    let task = w.task_id().to_owned();
    let body = png(50_000, 1);
    let slow = begin_raw(&app, &w.owner.access, &task, body.len(), &body[..20_000]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A second one of the same user waits its turn …
    let res = upload(&app, &w.owner, &task, "second.png", png(100, 2)).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "5");
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    // … while another user's upload goes through.
    let res = upload(&app, w.user("other"), &task, "other.png", png(100, 3)).await;
    assert_eq!(res.status(), 201);
    // The first one finishes; the slot comes back.
    let text = finish_raw(slow, &body[20_000..]);
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    assert_eq!(
        upload(&app, &w.owner, &task, "third.png", png(100, 4))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn rights_and_the_session_are_checked_again_when_the_transfer_ends() {
    let app = TestApp::start().await;
    let w = Scenario::new(&app)
        .await
        .with_project("MEMBERS", "CONFIDENTIAL")
        .await
        .with_project_member("editor", "EDITOR")
        .await
        .with_task("CONFIDENTIAL")
        .await;
    let task = w.task_id().to_owned();
    let body = png(50_000, 1);
    let editor = w.user("editor").clone();
    // Removed from the project while sending: nothing is recorded.
    let slow = begin_raw(&app, &editor.access, &task, body.len(), &body[..20_000]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.ok(
        &w.owner,
        "mutation($p: ID!, $u: ID!) { removeProjectMember(input: {projectId: $p, userId: $u}) { __typename } }",
        json!({ "p": w.project(), "u": editor.id }),
    )
    .await;
    let text = finish_raw(slow, &body[20_000..]);
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
    // Signed out while sending: nothing is recorded either.
    let slow = begin_raw(&app, &w.owner.access, &task, body.len(), &body[..20_000]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.ok(&w.owner, "mutation { logout { __typename } }", json!({}))
        .await;
    let text = finish_raw(slow, &body[20_000..]);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(text.contains("session ended"), "{text}");
    // Refusals at the end of a transfer are in the log (sampled per client and reason).
    let refused = one(
        &app,
        "SELECT count(*)::text AS v FROM audit_events WHERE action = 'uploadAttachment' AND outcome = 'forbidden' AND reason LIKE $1",
        "no longer allowed%",
    );
    assert_ne!(refused, "0");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(blobs(&app).is_empty(), "{:?}", blobs(&app));
    assert_eq!(rows(&app, "attachments"), "0");
    assert_eq!(rows(&app, "blob_purges"), "0");
}

#[tokio::test]
async fn text_must_stay_text_and_active_extensions_must_match_the_bytes() {
    let app = TestApp::start().await;
    let w = one_task(&app).await;
    let task = w.task_id().to_owned();
    // 9 KB of text, then an archive: typed text from its head, binary behind it.
    let mut polyglot = vec![b'A'; 9_000];
    polyglot.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x08\x00\xff\xfe\x00\x01");
    let res = upload(&app, &w.owner, &task, "notes.txt", polyglot).await;
    assert_eq!(res.status(), 415);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("application/octet-stream"),
        "{body}"
    );
    // Cut inside a character at the very end: not text either.
    let mut cut = "é".repeat(5000).into_bytes();
    cut.pop();
    assert_eq!(
        upload(&app, &w.owner, &task, "cut.txt", cut).await.status(),
        415
    );
    assert!(blobs(&app).is_empty());
    // Text named as a program or a page keeps its name plus what it is.
    for (sent, kept) in [
        ("tool.exe", "tool.exe.txt"),
        ("run.sh", "run.sh.txt"),
        ("x.html", "x.html.txt"),
        ("notes.md", "notes.md"),
    ] {
        let res = upload(&app, &w.owner, &task, sent, b"plain words".to_vec()).await;
        let created: serde_json::Value = res.json().await.unwrap();
        assert_eq!(created["name"], kept, "{sent}");
    }
    // A GIF named .html is kept as a GIF.
    let res = upload(
        &app,
        &w.owner,
        &task,
        "x.html",
        b"GIF89a\x01\x00\x01\x00<script>alert(1)</script>".to_vec(),
    )
    .await;
    let created: serde_json::Value = res.json().await.unwrap();
    assert_eq!(created["contentType"], "image/gif");
    assert_eq!(created["name"], "x.html.gif");
}

#[tokio::test]
async fn a_crash_mid_upload_leaves_nothing_behind_once_its_reservation_runs_out() {
    let app = TestApp::start().await;
    let w = one_task(&app).await;
    // What a server killed mid-upload leaves: a reservation and the local store's
    // staged part of the blob (`<key>#<n>`), never completed.
    let org = one(
        &app,
        "SELECT org_id::text AS v FROM tasks WHERE id = $1::uuid",
        w.task_id(),
    );
    let key = format!("org/{org}/{}", uuid::Uuid::new_v4());
    let staged = crust_e2e::files_dir(&app.db.url).join(format!("{key}#0"));
    std::fs::create_dir_all(staged.parent().unwrap()).unwrap();
    std::fs::write(&staged, png(70_000, 1)).unwrap();
    let mut conn = app.db.connect();
    crust_e2e::db::texts(
        &mut conn,
        "INSERT INTO blob_purges (storage_key, not_before) VALUES ($1, now() - interval '1 second') RETURNING storage_key AS v",
        &key,
    );
    eventually("the staged part to go", || !staged.exists()).await;
    eventually("the reservation to go", || rows(&app, "blob_purges") == "0").await;
}

#[tokio::test]
async fn others_than_admins_learn_no_exact_use_and_one_organization_cannot_take_every_slot() {
    let app = TestApp::start_with(|c| {
        c.files.org_quota_bytes = 250_000;
        c.files.uploads_per_org = 1;
    })
    .await;
    let w = Scenario::new(&app)
        .await
        .with_project("ORGANIZATION", "CONFIDENTIAL")
        .await
        .with_project_member("editor", "EDITOR")
        .await
        .with_task("CONFIDENTIAL")
        .await;
    let task = w.task_id().to_owned();
    assert_eq!(
        upload(&app, &w.owner, &task, "a.png", png(200_000, 1))
            .await
            .status(),
        201
    );
    // An EDITOR (not an org ADMIN) over the quota: refused when the file is recorded,
    // told the room left in whole MiB only — neither a declared length nor where the
    // transfer is cut gives the organization's exact use away.
    for declared in [true, false] {
        let text = if declared {
            let res = upload(&app, w.user("editor"), &task, "b.png", png(60_000, 2)).await;
            assert_eq!(res.status(), 413);
            res.text().await.unwrap()
        } else {
            // Without a length (chunked), sent to its end.
            let mut s = raw_head(
                &app,
                &w.user("editor").access,
                &format!("/tasks/{task}/attachments?name=b.png"),
                "Transfer-Encoding: chunked\r\n",
            );
            let bytes = png(60_000, 2);
            write!(s, "{:x}\r\n", bytes.len()).unwrap();
            s.write_all(&bytes).unwrap();
            s.write_all(b"\r\n0\r\n\r\n").unwrap();
            let text = answer(&mut s);
            assert!(text.starts_with("HTTP/1.1 413"), "{text}");
            text
        };
        assert!(text.contains("about 0 MiB left"), "{text}");
        assert!(!text.contains("50000"), "{text}");
    }
    // The organization's one upload slot held by a slow upload: another member waits.
    let body = png(40_000, 3);
    let slow = begin_raw(&app, &w.owner.access, &task, body.len(), &body[..10_000]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = upload(&app, w.user("editor"), &task, "c.png", png(100, 4)).await;
    assert_eq!(res.status(), 429);
    assert!(res.text().await.unwrap().contains("of your organization"));
    let text = finish_raw(slow, &body[10_000..]);
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    assert_eq!(rows(&app, "blob_purges"), "0");
    assert_eq!(blobs(&app).len(), 2);
}
