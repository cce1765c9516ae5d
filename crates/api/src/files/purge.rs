//! Removes the blobs the database queued: those of deleted attachments (their data
//! keys went with their rows, so they were unreadable already) and those of uploads
//! that never finished. Every server may run it; a blob is claimed by one at a time.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::store::BlobStore;
use crate::db::Db;

/// Wakes this process's purge worker (after a delete).
#[derive(Clone, Default)]
pub struct PurgeWake(Arc<Notify>);

impl PurgeWake {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// How long a claimed removal is left to its worker before another may retry it.
const LEASE_SECS: i64 = 300;
/// Removals claimed at once.
const BATCH: i64 = 100;

/// Runs until the process ends: on every wake, and every `every` anyway.
pub async fn run(db: Db, store: BlobStore, wake: PurgeWake, every: Duration) {
    loop {
        loop {
            match purge_some(&db, &store).await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "blob purge failed; retrying later");
                    break;
                }
            }
        }
        tokio::select! {
            _ = wake.0.notified() => {}
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// One batch; answers how many were claimed.
pub async fn purge_some(db: &Db, store: &BlobStore) -> Result<usize, String> {
    let keys = db
        .run(|c| crust_dal::attachments::claim_purges(c, BATCH, LEASE_SECS))
        .await
        .map_err(|e| e.message())?;
    let n = keys.len();
    for key in keys {
        match store.delete(&key).await {
            Ok(()) => {
                let k = key.clone();
                db.run(move |c| crust_dal::attachments::purged(c, &k))
                    .await
                    .map_err(|e| e.message())?;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not remove a blob; will retry");
                let (k, msg) = (key.clone(), e.to_string());
                db.run(move |c| crust_dal::attachments::purge_failed(c, &k, &msg))
                    .await
                    .map_err(|e| e.message())?;
            }
        }
    }
    Ok(n)
}
