//! GraphQL `ID`s are UUIDs; a malformed one is BAD_USER_INPUT, a well-formed one that
//! names nothing the caller may see is NOT_FOUND.

use async_graphql::ID;
use uuid::Uuid;

use crate::error::ApiError;

pub(crate) fn parse<T: From<Uuid>>(field: &str, id: &ID) -> Result<T, ApiError> {
    Uuid::parse_str(id.as_str()).map(T::from).map_err(|_| {
        ApiError::BadUserInput(format!(
            "{field}: `{}` is not a valid id; pass an `id` value this API returned (a UUID)",
            truncate(id.as_str())
        ))
    })
}

fn truncate(s: &str) -> String {
    // Echo at most a short prefix of bad input back.
    let mut t: String = s.chars().take(40).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    t
}

pub(crate) fn id(uuid: Uuid) -> ID {
    ID(uuid.to_string())
}
