//! Listening for the changes the database announces (`LISTEN`), on a connection of its
//! own: the announcements of a channel arrive on the connection that listens, outside
//! any query, so it cannot be a pooled one.

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::error::{DalError, DalResult};

/// The channel on which the `tasks` trigger announces each change (migration
/// `task_changes`): a JSON object of ids.
pub const TASK_CHANGES: &str = "crust_task_changes";

pub struct Listener {
    conn: PgConnection,
}

impl Listener {
    /// Opens a connection to `url` that listens on [`TASK_CHANGES`].
    pub fn open(url: &str) -> DalResult<Listener> {
        let mut conn =
            PgConnection::establish(url).map_err(|e| DalError::Unavailable(e.to_string()))?;
        diesel::sql_query(format!("LISTEN {TASK_CHANGES}")).execute(&mut conn)?;
        Ok(Listener { conn })
    }

    /// The payloads that arrived since the last call, without waiting. An error means
    /// the connection is lost: open another.
    pub fn received(&mut self) -> DalResult<Vec<String>> {
        let mut payloads = Vec::new();
        for notification in self.conn.notifications_iter() {
            let n = notification.map_err(|e| DalError::Unavailable(e.to_string()))?;
            if n.channel == TASK_CHANGES {
                payloads.push(n.payload);
            }
        }
        Ok(payloads)
    }
}
