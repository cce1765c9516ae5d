//! The connection that listens for changes: one per instance, on a thread of its own
//! (the DAL's connections block), reading what PostgreSQL sent every tenth of a second.
//! It ends when the instance's hub is dropped; a lost connection is opened again, and
//! subscribers are told they missed changes.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crust_dal::live::Listener;

use super::{Change, Inner, Received};

const POLL: Duration = Duration::from_millis(100);
const RETRY: Duration = Duration::from_secs(1);

pub(super) fn start(hub: Weak<Inner>) {
    let spawned = std::thread::Builder::new()
        .name("crust-live".into())
        .spawn(move || run(hub));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the live-changes listener");
    }
}

fn run(hub: Weak<Inner>) {
    let mut first = true;
    loop {
        let Some(url) = hub.upgrade().map(|h| h.database_url.clone()) else {
            return;
        };
        let mut listener = match Listener::open(&url) {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "live changes: cannot listen; retrying");
                std::thread::sleep(RETRY);
                continue;
            }
        };
        tracing::info!("live changes: listening");
        if !first {
            // Changes made while nobody listened are lost: say so.
            if let Some(h) = hub.upgrade() {
                let _ = h.sender.send(Received::Missed);
            }
        }
        first = false;
        loop {
            std::thread::sleep(POLL);
            let Some(h) = hub.upgrade() else {
                return;
            };
            match listener.received() {
                Ok(payloads) => {
                    for payload in payloads {
                        match serde_json::from_str::<Change>(&payload) {
                            // No receiver is fine: nobody follows anything yet.
                            Ok(change) => drop(h.sender.send(Received::Change(Arc::new(change)))),
                            Err(e) => {
                                tracing::error!(error = %e, "live changes: unreadable payload")
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live changes: connection lost; listening again");
                    break;
                }
            }
        }
    }
}
