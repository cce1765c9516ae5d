//! What is stored is ciphertext only, and a stored file that was changed in any way is
//! refused, never served.

use crust_e2e::TestApp;

use super::*;

const SEALED_CHUNK: usize = 65536 + 16;

#[tokio::test]
async fn the_stored_bytes_are_ciphertext_only() {
    let app = TestApp::start().await;
    let w = one_task(&app).await;
    let secret_line = "Quarterly numbers: revenue 1,234,567 — do not share. ";
    let text = secret_line.repeat(3000);
    let id = uploaded(
        &app,
        &w.owner,
        w.task_id(),
        "numbers.txt",
        text.clone().into_bytes(),
    )
    .await;
    let stored = std::fs::read(blob_of(&app, &id)).unwrap();
    // Every chunk carries its tag: the stored size is the file's plus 16 bytes a chunk.
    assert_eq!(stored.len(), text.len() + 16 * text.len().div_ceil(65536));
    let needle = b"Quarterly numbers";
    assert!(
        !stored.windows(needle.len()).any(|w| w == needle),
        "plaintext found in the stored blob"
    );
    // Not just scrambled text: the stored bytes look random (no byte value dominates).
    let mut counts = [0usize; 256];
    for b in &stored {
        counts[*b as usize] += 1;
    }
    assert!(
        *counts.iter().max().unwrap() < stored.len() / 64,
        "the blob does not look encrypted"
    );
    // The blob lives in a folder only the server's user may enter.
    use std::os::unix::fs::PermissionsExt;
    let root = crust_e2e::files_dir(&app.db.url);
    assert_eq!(
        std::fs::metadata(&root).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // Its path is made of ids the server chose, not the name sent.
    let key = one(
        &app,
        "SELECT storage_key AS v FROM attachments WHERE id = $1::uuid",
        &id,
    );
    assert!(!key.contains("numbers"), "{key}");
    assert_eq!(
        download(&app, &w.owner, &id, None)
            .await
            .text()
            .await
            .unwrap(),
        text
    );
}

/// Downloads and expects the integrity refusal: a 500 with the request id, recorded.
async fn refused(app: &TestApp, who: &crust_e2e::Session, id: &str, how: &str) {
    let res = download(app, who, id, None).await;
    assert_eq!(res.status(), 500, "{how}");
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "INTERNAL", "{how}");
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"],
        request_id.as_str(),
        "{how}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("integrity"),
        "{how}"
    );
    let recorded = one(
        app,
        "SELECT count(*)::text AS v FROM audit_events WHERE action = 'attachmentIntegrityFailure' AND request_id = $1",
        &request_id,
    );
    assert_eq!(recorded, "1", "{how}: no audit event");
    // A range inside a damaged chunk is refused as well.
}

#[tokio::test]
async fn tampered_truncated_reordered_or_swapped_files_are_refused_never_served() {
    let app = TestApp::start().await;
    let w = one_task(&app).await;
    let bytes = png(4 * 65536 + 500, 5);
    let id = uploaded(&app, &w.owner, w.task_id(), "t.png", bytes.clone()).await;
    let other = uploaded(
        &app,
        &w.owner,
        w.task_id(),
        "o.png",
        png(4 * 65536 + 500, 6),
    )
    .await;
    let path = blob_of(&app, &id);
    let original = std::fs::read(&path).unwrap();

    // One bit flipped in the third chunk.
    let mut flipped = original.clone();
    flipped[2 * SEALED_CHUNK + 10] ^= 0x01;
    std::fs::write(&path, &flipped).unwrap();
    refused(&app, &w.owner, &id, "flipped bit").await;
    // Even a range that lies wholly in the damaged chunk.
    let res = download(&app, &w.owner, &id, Some("bytes=131100-131200")).await;
    assert_eq!(res.status(), 500);

    // Cut after the second chunk (and the length fixed up would not help either).
    std::fs::write(&path, &original[..2 * SEALED_CHUNK]).unwrap();
    refused(&app, &w.owner, &id, "truncated").await;

    // Chunks 0 and 1 swapped.
    let mut swapped = original.clone();
    swapped[..SEALED_CHUNK].copy_from_slice(&original[SEALED_CHUNK..2 * SEALED_CHUNK]);
    swapped[SEALED_CHUNK..2 * SEALED_CHUNK].copy_from_slice(&original[..SEALED_CHUNK]);
    std::fs::write(&path, &swapped).unwrap();
    refused(&app, &w.owner, &id, "reordered").await;

    // Another file's blob put in its place.
    std::fs::write(&path, std::fs::read(blob_of(&app, &other)).unwrap()).unwrap();
    refused(&app, &w.owner, &id, "swapped between files").await;

    // The blob gone.
    std::fs::remove_file(&path).unwrap();
    refused(&app, &w.owner, &id, "missing blob").await;

    // None of the refused reads counts as a download.
    assert_eq!(
        one(
            &app,
            "SELECT count(*)::text AS v FROM audit_events WHERE action = $1",
            "downloadAttachment"
        ),
        "0"
    );
    // Put back, it is served again, byte for byte.
    std::fs::write(&path, &original).unwrap();
    let res = download(&app, &w.owner, &id, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(sha256(&res.bytes().await.unwrap()), sha256(&bytes));
}
