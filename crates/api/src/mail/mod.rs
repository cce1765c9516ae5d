//! Email. Flows queue messages in the outbox inside their own transaction (the DAL
//! does that); this module renders them ([`render`]), sends them with lettre over SMTP
//! or into `.eml` files ([`transport`]), and runs the worker that drains the outbox
//! ([`worker`]). A request never waits on SMTP: it only wakes the worker.

pub mod render;
pub mod transport;
pub mod worker;

use std::sync::Arc;

use tokio::sync::Notify;

/// What request handlers hold of the mail side: a way to wake this process's worker
/// once a transaction that queued mail has committed (the worker also polls, so a
/// message queued elsewhere still goes out).
#[derive(Clone, Default)]
pub struct MailWake(Arc<Notify>);

impl MailWake {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.0.notified().await
    }
}
