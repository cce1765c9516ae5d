//! The DAL's error type. Callers map it to API error codes; the `Database` and `Pool`
//! causes are for logs only and must never reach a client.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum DalError {
    /// Missing, or hidden from the actor (the two are indistinguishable on purpose).
    #[error("not found")]
    NotFound,
    /// The actor can see the object but may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The input breaks a rule; the message is safe to show.
    #[error("{0}")]
    Invalid(String),
    /// The change conflicts with existing data (duplicate, last owner …); safe to show.
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(DieselError),
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// The connection broke or the server is shutting down or starting: nothing was
    /// committed by the failed statement, and retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Something outside the database failed (the OS random generator); for logs only.
    #[error("internal: {0}")]
    Internal(String),
}

pub type DalResult<T> = Result<T, DalError>;

impl From<DieselError> for DalError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => DalError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                DalError::Conflict("already exists".into())
            }
            DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, _) => {
                DalError::Invalid("a value is out of its allowed range".into())
            }
            other if connection_lost(&other) => DalError::Unavailable(other.to_string()),
            other => DalError::Database(other),
        }
    }
}

/// Errors that say the server went away (a restart, a failover, a killed backend), as
/// opposed to a statement that failed: SQLSTATE class 57 (operator intervention:
/// admin shutdown, crash shutdown, cannot connect now) and class 08 (connection
/// exception) arrive as these messages, since diesel keeps only the text.
fn connection_lost(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
        | DieselError::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _)
        | DieselError::BrokenTransactionManager => true,
        DieselError::DatabaseError(_, info) => {
            const GONE: [&str; 6] = [
                "terminating connection",
                "server closed the connection",
                "no connection to the server",
                "the database system is shutting down",
                "the database system is starting up",
                "connection to server",
            ];
            let message = info.message();
            GONE.iter().any(|g| message.contains(g))
        }
        _ => false,
    }
}

impl From<crust_domain::validate::ValidationError> for DalError {
    fn from(e: crust_domain::validate::ValidationError) -> Self {
        DalError::Invalid(e.to_string())
    }
}

impl DalError {
    pub fn forbidden(what: impl Into<String>) -> Self {
        DalError::Forbidden(what.into())
    }

    /// Turns a domain decision into a result.
    pub fn check(decision: crust_domain::Decision, what: &str) -> DalResult<()> {
        match decision {
            crust_domain::Decision::Allow => Ok(()),
            crust_domain::Decision::Forbidden => Err(DalError::Forbidden(format!(
                "you are not allowed to {what}"
            ))),
            crust_domain::Decision::NotFound => Err(DalError::NotFound),
        }
    }
}
