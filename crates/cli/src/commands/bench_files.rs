//! `crust bench`'s attachment rows: upload and download throughput of a 20 MiB file
//! against `cat` writing and reading the same bytes (the ceiling: the disk and the
//! kernel, no HTTP, no encryption), and how much the server's memory grows at its peak
//! during a 25 MiB upload (streaming: it must stay far below the file's size).
//!
//! The server here is a `crust serve` child process of its own (`bench_server`): its
//! memory is its own, not the bench's (which holds the file to send and what seeding
//! left).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{anyhow, Context};

const MIB: f64 = 1024.0 * 1024.0;
const ROUNDS: usize = 5;

/// Bytes that are not text (typed image/png) and do not compress.
fn file_bytes(len: usize) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn cat_rate(bytes: &[u8], dir: &std::path::Path) -> anyhow::Result<(f64, f64)> {
    let path = dir.join("ceiling.bin");
    let (mut write, mut read) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(&path)?)
            .spawn()
            .context("cannot run cat")?;
        child
            .stdin
            .take()
            .ok_or_else(|| anyhow!("no stdin"))?
            .write_all(bytes)?;
        child.wait()?;
        std::fs::File::open(&path)?.sync_all()?;
        write.push(bytes.len() as f64 / MIB / started.elapsed().as_secs_f64());
        let started = Instant::now();
        let out = Command::new("cat")
            .arg(&path)
            .stdout(Stdio::piped())
            .output()?;
        if out.stdout.len() != bytes.len() {
            anyhow::bail!("cat read {} bytes", out.stdout.len());
        }
        read.push(bytes.len() as f64 / MIB / started.elapsed().as_secs_f64());
    }
    std::fs::remove_file(&path)?;
    Ok((median(write), median(read)))
}

pub async fn report(config: &crust_api::Config, task: &str) -> anyhow::Result<()> {
    let server = super::bench_server::serve(config, &[]).await?;
    let base = server.base.as_str();
    let http = super::bench_server::http_client()?;
    let token = super::bench::sign_in(&http, base).await?;
    let token = token.as_str();
    let dir = config.files.dir.as_path();
    // Peak memory of the fresh server during one 25 MiB upload, against what it held
    // before (first, so that earlier transfers' freed memory does not hide it).
    let body = file_bytes(25 * 1024 * 1024);
    let before = server.rss_mib().unwrap_or(0.0);
    let memory = if server.reset_peak() {
        let res = http
            .post(format!("{base}/tasks/{task}/attachments?name=bench-25.png"))
            .bearer_auth(token)
            .body(body)
            .send()
            .await?;
        if res.status() != 201 {
            anyhow::bail!("the 25 MiB upload failed: {}", res.status());
        }
        let grew = (server.peak_mib().unwrap_or(0.0) - before).max(0.0);
        format!(
            "25 MiB upload: the server's peak memory grew by {grew:.1} MiB over the {before:.0} MiB it held before ({:.0}% of the file's size)",
            100.0 * grew / 25.0
        )
    } else {
        "25 MiB upload: peak memory not measured (/proc/<pid>/clear_refs not writable here)"
            .to_owned()
    };
    let bytes = file_bytes(20 * 1024 * 1024);
    let (cat_write, cat_read) = cat_rate(&bytes, dir)?;
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let started = Instant::now();
        let res = http
            .post(format!(
                "{base}/tasks/{task}/attachments?name=bench-{round}.png"
            ))
            .bearer_auth(token)
            .body(bytes.clone())
            .send()
            .await?;
        if res.status() != 201 {
            anyhow::bail!("upload failed: {} {}", res.status(), res.text().await?);
        }
        let created: serde_json::Value = res.json().await?;
        up.push(bytes.len() as f64 / MIB / started.elapsed().as_secs_f64());
        let id = created["id"].as_str().ok_or_else(|| anyhow!("no id"))?;
        let started = Instant::now();
        let got = http
            .get(format!("{base}/attachments/{id}"))
            .bearer_auth(token)
            .send()
            .await?
            .bytes()
            .await?;
        down.push(bytes.len() as f64 / MIB / started.elapsed().as_secs_f64());
        if got.as_ref() != bytes.as_slice() {
            anyhow::bail!("the downloaded file differs from the uploaded one");
        }
    }
    let (up, down) = (median(up), median(down));
    println!();
    println!("attachments: a 20 MiB file, median of {ROUNDS} rounds (the ceiling: `cat` of the same bytes to and from disk)");
    println!(
        "{:<42} {:>10} {:>12} {:>12}",
        "", "MiB/s", "ceiling", "of ceiling"
    );
    println!(
        "{:<42} {:>10.0} {:>12.0} {:>11.0}%",
        "upload (HTTP, encrypt, write)",
        up,
        cat_write,
        100.0 * up / cat_write
    );
    println!(
        "{:<42} {:>10.0} {:>12.0} {:>11.0}%",
        "download (read, verify, decrypt, HTTP)",
        down,
        cat_read,
        100.0 * down / cat_read
    );

    println!("{memory}");
    Ok(())
}
