//! Handing memory back after a burst. While a large query is built, its tree of values
//! takes several MiB; glibc's malloc keeps what is freed for reuse, so a server that
//! served 32 project trees at once would hold that peak for good. Once GraphQL has been
//! idle for a whole second after running anything, `malloc_trim` returns the free
//! memory of every arena to the system (a few milliseconds, and only after work).
//!
//! `malloc_trim` does not reach the free top of a thread's arena, which glibc keeps up
//! to a trim threshold it raises as large blocks come and go. Fixing both thresholds at
//! 128 KiB (mallopt) was measured in the seventh session: 51 MiB idle after load
//! against 56–58, but attachment downloads a third slower (their 64 KiB chunks, freed
//! onto the top, had it trimmed and faulted in again each time); not kept.
//!
//! The peak itself is bounded by `CRUST_GRAPHQL_CONCURRENCY`. (mimalloc was tried in
//! glibc's place: no measurable gain in CPU, and twice the memory at the peak — the
//! README's performance section has the figures.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts the GraphQL operations that started executing.
#[derive(Clone, Default)]
pub struct Activity(Arc<AtomicU64>);

impl Activity {
    pub fn started(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Trims once nothing has started for a whole tick and something ran since the last
/// trim. Runs until the server's runtime stops.
pub async fn return_when_idle(activity: Activity) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut previous, mut trimmed_at) = (activity.count(), activity.count());
    loop {
        tick.tick().await;
        let now = activity.count();
        if now == previous && now != trimmed_at {
            trimmed_at = now;
            // Walks the arenas: off the async workers.
            let _ = tokio::task::spawn_blocking(trim).await;
        }
        previous = now;
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    // SAFETY: malloc_trim only releases free memory the allocator holds; it takes the
    // arenas' locks itself and touches no memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
