//! The one mapping from internal errors to what clients see: a GraphQL error with
//! `extensions.code`. Causes of INTERNAL errors are logged, never returned.

use async_graphql::ErrorExtensions;
use crust_dal::DalError;

///
/// Deliberately not `Display`: async-graphql converts any `Display` error into a
/// code-less GraphQL error through `?`, which would drop `extensions.code`. Without it,
/// the only conversion is ours below.
#[derive(Debug, Clone)]
pub enum ApiError {
    Unauthenticated(&'static str),
    Forbidden(String),
    NotFound,
    BadUserInput(String),
    Conflict(String),
    Unavailable,
    /// The string is for the log only.
    Internal(String),
}

impl ApiError {
    /// No pooled connection came free in time: counted, logged, answered 503.
    pub fn database_unavailable(cause: impl std::fmt::Display) -> Self {
        crate::metrics::metrics().db_unavailable.inc();
        tracing::warn!(error = %cause, "database connection unavailable");
        ApiError::Unavailable
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        ApiError::Internal(cause.into())
    }

    /// The message a client may see.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated(m) => (*m).to_owned(),
            ApiError::Forbidden(m) | ApiError::BadUserInput(m) | ApiError::Conflict(m) => m.clone(),
            ApiError::NotFound => "not found".into(),
            ApiError::Unavailable => "the service is busy; retry shortly".into(),
            ApiError::Internal(_) => "internal error".into(),
        }
    }

    /// The error as a GraphQL error of its own, outside any field: a refusal made
    /// before a document runs.
    pub fn to_server_error(&self) -> async_graphql::ServerError {
        let mut error = async_graphql::ServerError::new(self.message(), None);
        error.extensions = self.extend().extensions;
        error
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::BadUserInput(_) => "BAD_USER_INPUT",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::Unavailable | ApiError::Internal(_) => "INTERNAL",
        }
    }
}

impl From<DalError> for ApiError {
    fn from(e: DalError) -> Self {
        match e {
            DalError::NotFound => ApiError::NotFound,
            DalError::Forbidden(m) => ApiError::Forbidden(m),
            DalError::Invalid(m) => ApiError::BadUserInput(m),
            DalError::Conflict(m) => ApiError::Conflict(m),
            DalError::Pool(e) => ApiError::database_unavailable(e),
            DalError::Unavailable(e) => {
                crate::metrics::metrics().db_unavailable.inc();
                tracing::warn!(error = %e, "database connection lost");
                ApiError::Unavailable
            }
            DalError::Database(e) => ApiError::Internal(format!("database: {e}")),
            DalError::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        // Every denial goes to the log, inside the request's span (so with its id).
        match self {
            ApiError::Internal(cause) => tracing::error!(cause = %cause, "internal error"),
            ApiError::Unauthenticated(_) | ApiError::Forbidden(_) | ApiError::NotFound => {
                tracing::info!(code = self.code(), "request denied")
            }
            _ => {}
        }
        let code = self.code();
        let retryable = matches!(self, ApiError::Unavailable);
        async_graphql::Error::new(self.message()).extend_with(|_, ext| {
            ext.set("code", code);
            if retryable {
                ext.set("retryable", true);
            }
        })
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        e.extend()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
