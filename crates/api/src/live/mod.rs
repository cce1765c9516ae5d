//! Live changes: tasks changed through any instance, told to this instance's
//! subscribers (graphql-ws on `/graphql/ws`).
//!
//! A trigger announces every change to a task on the PostgreSQL channel
//! `crust_task_changes`, ids only (migration `task_changes`). Each instance listens on
//! one connection of its own, opened when its first subscriber arrives, and hands the
//! changes to its subscribers through a broadcast channel; each subscription then decides,
//! per receiver, what they may be told (`graphql::live`).

mod listener;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::auth::{AuthService, Principal};
use crate::error::ApiError;
use crust_dal::Actor;

/// Changes a slow subscriber may fall behind by before it is told it missed some (one
/// statement touching more tasks than this makes every subscriber refetch).
const BACKLOG: usize = 16 * 1024;

/// A change to a task, as the trigger announces it (see the migration for the keys).
#[derive(Clone, Debug, Deserialize)]
pub struct Change {
    /// `I`, `U` or `D`.
    pub op: String,
    pub o: Uuid,
    pub p: Uuid,
    pub t: Uuid,
    pub b: Option<Uuid>,
    pub s: Option<Uuid>,
    #[serde(default)]
    pub ob: Option<Uuid>,
    #[serde(default)]
    pub os: Option<Uuid>,
    /// For a deletion: was the task SECRET?
    #[serde(default)]
    pub secret: Option<bool>,
}

/// What a subscription receives. A change is shared, not copied, among the receivers,
/// and the channel's backlog of [`BACKLOG`] slots holds a pointer each (a `Change`
/// inline made it 2.75 MB, allocated and touched at start whether anyone listens or not).
#[derive(Clone, Debug)]
pub enum Received {
    Change(Arc<Change>),
    /// Changes were lost on the way: the receiver should fetch again.
    Missed,
}

/// This instance's live changes.
#[derive(Clone)]
pub struct Hub(Arc<Inner>);

struct Inner {
    sender: broadcast::Sender<Received>,
    database_url: String,
    listening: AtomicBool,
}

impl Hub {
    pub fn new(database_url: String) -> Hub {
        let (sender, _) = broadcast::channel(BACKLOG);
        Hub(Arc::new(Inner {
            sender,
            database_url,
            listening: AtomicBool::new(false),
        }))
    }

    /// Every change from now on (the listener starts with the first stream).
    pub fn stream(&self) -> impl Stream<Item = Received> + Send + 'static {
        if !self.0.listening.swap(true, Ordering::SeqCst) {
            listener::start(Arc::downgrade(&self.0));
        }
        let receiver = self.0.sender.subscribe();
        futures_util::stream::unfold(receiver, |mut receiver| async move {
            match receiver.recv().await {
                Ok(received) => Some((received, receiver)),
                Err(broadcast::error::RecvError::Lagged(_)) => Some((Received::Missed, receiver)),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })
    }
}

/// The signed-in caller of a socket: their access token, checked again whenever they
/// are to be told something and every few seconds (see `socket`).
#[derive(Clone)]
pub struct LiveCaller {
    pub token: Arc<str>,
    pub auth: AuthService,
}

impl LiveCaller {
    /// Who the caller is now (their session still open, their memberships as they are).
    pub async fn now(&self) -> Result<(Principal, Actor), ApiError> {
        self.auth.authenticate(&self.token).await
    }
}

/// Live connections per user in this process, to cap them.
#[derive(Clone, Default)]
pub struct Connections(Arc<std::sync::Mutex<std::collections::HashMap<Uuid, usize>>>);

/// A user's live connection, counted until dropped.
pub struct Slot {
    connections: Connections,
    user: Uuid,
}

impl Connections {
    /// Counts a connection of `user`, unless they already hold `max`.
    pub fn open(&self, user: Uuid, max: usize) -> Option<Slot> {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(user).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            connections: self.clone(),
            user,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.connections.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.user);
            }
        }
    }
}
