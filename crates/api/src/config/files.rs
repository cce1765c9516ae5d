//! Attachments: where files are stored, the keys they are encrypted with, and the
//! limits on uploads.

use std::collections::HashMap;
use std::path::PathBuf;

use super::setting::{settings, Secret};

/// The master key used when none is configured (base64 of 32 bytes). Never valid in
/// prod: files encrypted with it are only as safe as this repository.
pub const DEV_FILE_KEY: &str = "ZGV2LW9ubHktaW5zZWN1cmUtZmlsZS1rZXktMzJieSE=";

/// What the README says instead of printing a development secret.
const MARKED_DEV_VALUE: &str = "a marked development value";

/// The types accepted when `CRUST_UPLOAD_TYPES` is not set: documents, images,
/// archives and text. HTML and SVG are accepted but, like everything, only ever served
/// as downloads.
pub const DEFAULT_UPLOAD_TYPES: &str = "image/png,image/jpeg,image/gif,image/webp,image/bmp,image/tiff,image/heif,image/avif,image/svg+xml,application/pdf,text/plain,text/html,application/rtf,application/zip,application/gzip,application/x-7z-compressed,application/x-tar,application/msword,application/vnd.ms-excel,application/vnd.ms-powerpoint,application/vnd.openxmlformats-officedocument.wordprocessingml.document,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/vnd.openxmlformats-officedocument.presentationml.presentation,application/vnd.oasis.opendocument.text,application/vnd.oasis.opendocument.spreadsheet,application/vnd.oasis.opendocument.presentation,audio/mpeg,video/mp4";

fn check_store(url: &Option<String>) -> Result<(), String> {
    let Some(url) = url else { return Ok(()) };
    match url.strip_prefix("s3://") {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => Err("must look like s3://bucket or s3://bucket/prefix".into()),
    }
}

#[allow(clippy::ptr_arg)]
fn check_types(types: &Vec<String>) -> Result<(), String> {
    match types.iter().find(|t| {
        let t = t.as_str();
        t.split_once('/')
            .is_none_or(|(a, b)| a.is_empty() || b.is_empty() || t.contains(char::is_whitespace))
    }) {
        Some(bad) => Err(format!(
            "`{bad}` is not a media type like image/png or image/*"
        )),
        None => Ok(()),
    }
}

settings! {
    /// Attachments: storage, encryption keys, upload limits.
    pub struct FilesConfig {
        pub dir: PathBuf {
            env: "CRUST_FILES_DIR",
            default: Is(".crust/files"),
            doc: "Where attachment blobs are stored (encrypted) when `CRUST_FILES_STORE` is not set; created owner-only (0700).",
        },
        pub store: Option<String> {
            env: "CRUST_FILES_STORE",
            default: Unset("none: the local directory `CRUST_FILES_DIR`"),
            check: check_store,
            doc: "`s3://bucket[/prefix]`: keep blobs in an S3-compatible object store instead. Credentials from `CRUST_FILES_S3_ACCESS_KEY_ID` / `CRUST_FILES_S3_SECRET_ACCESS_KEY`.",
        },
        pub s3_endpoint: Option<String> {
            env: "CRUST_FILES_S3_ENDPOINT",
            default: Unset("none: AWS itself"),
            doc: "Address of an S3-compatible server (MinIO, Ceph, …). **Prod: must be https.**",
        },
        pub s3_region: String {
            env: "CRUST_FILES_S3_REGION",
            default: Is("us-east-1"),
            doc: "The bucket's region.",
        },
        pub s3_access_key_id: Option<String> {
            env: "CRUST_FILES_S3_ACCESS_KEY_ID",
            default: Unset("none"),
            doc: "Access key id for the object store.",
        },
        pub s3_secret_access_key: Option<Secret> {
            env: "CRUST_FILES_S3_SECRET_ACCESS_KEY",
            default: Unset("none"),
            doc: "Secret access key for the object store.",
        },
        pub key: Secret {
            env: "CRUST_FILE_KEY",
            default: FromProfile(|_| DEV_FILE_KEY.into(), MARKED_DEV_VALUE),
            doc: "Master key (base64 of 32 random bytes: `openssl rand -base64 32`) wrapping each new file's data key. **Prod: required, not the development default.**",
        },
        pub key_id: String {
            env: "CRUST_FILE_KEY_ID",
            default: Is("dev"),
            doc: "Id of `CRUST_FILE_KEY`, stored with each file it wraps (1–64 characters).",
        },
        pub previous_keys: HashMap<String, Secret> {
            env: "CRUST_FILE_PREVIOUS_KEYS",
            default: Unset("none"),
            doc: "`kid=base64key,…`: older master keys, still read until `crust keys rotate-files --to KID` has re-wrapped every file they wrap.",
        },
        pub max_upload_bytes: i64 {
            env: "CRUST_UPLOAD_MAX_BYTES",
            default: IsNoted("26214400", "25 MiB"),
            range: 1..=2_147_483_647,
            doc: "Largest attachment. A larger upload is cut off with 413 as soon as it passes this size.",
        },
        pub org_quota_bytes: i64 {
            env: "CRUST_ORG_STORAGE_QUOTA_BYTES",
            default: IsNoted("10737418240", "10 GiB"),
            range: 0..,
            doc: "What one organization's attachments may take in all.",
        },
        pub upload_types: Vec<String> {
            env: "CRUST_UPLOAD_TYPES",
            default: IsNoted(DEFAULT_UPLOAD_TYPES, "common documents, images, archives, text, HTML and SVG"),
            check: check_types,
            doc: "Media types accepted, as detected from the file's bytes (`image/*` allowed); comma-separated.",
        },
        pub purge_poll_ms: u64 {
            env: "CRUST_FILES_PURGE_POLL_MS",
            default: IsNoted("10000", "10 s"),
            range: 10..=3_600_000,
            doc: "How often blobs of deleted attachments (a task or project deleted with its files) are looked for and removed; `deleteAttachment` removes its blob at once.",
        },
        pub uploads_per_user: usize {
            env: "CRUST_UPLOADS_PER_USER",
            default: Is("4"),
            range: 1..=1000,
            doc: "Uploads one user may have running at once; more answer 429.",
        },
        pub uploads_per_org: usize {
            env: "CRUST_UPLOADS_PER_ORG",
            default: Is("16"),
            range: 1..=10_000,
            doc: "Uploads one organization's users may have running at once on one server; more answer 429.",
        },
        pub uploads_in_all: usize {
            env: "CRUST_UPLOADS_IN_ALL",
            default: Is("64"),
            range: 1..=100_000,
            doc: "Uploads one server process runs at once; more answer 503 with `Retry-After`.",
        },
        pub upload_idle_timeout_secs: u64 {
            env: "CRUST_UPLOAD_IDLE_TIMEOUT_SECS",
            default: Is("30"),
            range: 1..=3600,
            doc: "An upload that sends nothing for this long is dropped (408).",
        },
        pub upload_timeout_secs: u64 {
            env: "CRUST_UPLOAD_TIMEOUT_SECS",
            default: IsNoted("900", "15 min"),
            range: 1..=86_400,
            doc: "Longest an upload may take in all (a slow sender is dropped with 408).",
        },
    }
}
