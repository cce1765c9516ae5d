//! Attachments' files: limits, encryption at rest, the blob store and its purge.
//! The HTTP side (upload, download) is `crate::http::attachments`; the GraphQL side
//! `crate::graphql::attachments`.

pub mod crypto;
pub mod kinds;
pub mod purge;
pub mod slots;
pub mod store;

use std::collections::HashMap;
use std::time::Duration;

use crate::config::FilesConfig;
use crypto::MasterKeys;
use store::BlobStore;

/// What an upload may be.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_bytes: u64,
    pub org_quota: u64,
    pub types: Vec<String>,
    pub idle: Duration,
    pub total: Duration,
}

/// The server's attachments: where blobs go, the keys, the limits.
#[derive(Clone)]
pub struct Files {
    pub store: BlobStore,
    pub keys: MasterKeys,
    pub limits: Limits,
    pub purge: purge::PurgeWake,
    pub purge_every: Duration,
    pub slots: std::sync::Arc<slots::UploadSlots>,
}

/// The configured master keys (the active one and the previous ones).
pub fn master_keys(cfg: &FilesConfig) -> Result<MasterKeys, String> {
    let bad = |var: &str| format!("{var} must be the base64 of 32 bytes");
    let mut keys = HashMap::new();
    keys.insert(
        cfg.key_id.clone(),
        crypto::parse_master_key(cfg.key.expose()).ok_or_else(|| bad("CRUST_FILE_KEY"))?,
    );
    for (kid, key) in &cfg.previous_keys {
        keys.insert(
            kid.clone(),
            crypto::parse_master_key(key.expose())
                .ok_or_else(|| bad("CRUST_FILE_PREVIOUS_KEYS"))?,
        );
    }
    MasterKeys::new(&cfg.key_id, keys).map_err(|e| e.to_string())
}

impl Files {
    pub fn from_config(cfg: &FilesConfig) -> Result<Self, String> {
        Ok(Files {
            store: BlobStore::from_config(cfg).map_err(|e| e.to_string())?,
            keys: master_keys(cfg)?,
            limits: Limits {
                max_bytes: cfg.max_upload_bytes.max(0) as u64,
                org_quota: cfg.org_quota_bytes.max(0) as u64,
                types: cfg.upload_types.clone(),
                idle: Duration::from_secs(cfg.upload_idle_timeout_secs),
                total: Duration::from_secs(cfg.upload_timeout_secs),
            },
            purge: purge::PurgeWake::default(),
            purge_every: Duration::from_millis(cfg.purge_poll_ms),
            slots: slots::UploadSlots::new(
                cfg.uploads_per_user,
                cfg.uploads_per_org,
                cfg.uploads_in_all,
            ),
        })
    }

    /// How long an upload's reservation holds before its blob counts as abandoned:
    /// well past the longest an upload may take.
    pub fn reservation_secs(&self) -> i64 {
        self.limits.total.as_secs() as i64 + 600
    }
}

/// Sizes as people read them: `25 MiB`, `1.5 GiB`, `300 bytes`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64;
    let mut unit = "bytes";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    let text = format!("{value:.1}");
    format!("{} {unit}", text.trim_end_matches(".0"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(super::human_size(300), "300 bytes");
        assert_eq!(super::human_size(25 * 1024 * 1024), "25 MiB");
        assert_eq!(super::human_size(1536 * 1024 * 1024), "1.5 GiB");
    }
}
