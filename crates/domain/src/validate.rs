//! Validation of user input. Errors say what is wrong in words a user can act on.

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    pub field: &'static str,
    pub problem: String,
}

impl ValidationError {
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_DESCRIPTION_CHARS: usize = 100_000;
pub const MAX_EMAIL_CHARS: usize = 254;

/// A display name: trimmed, 1–200 characters, no control characters.
pub fn name(field: &'static str, value: &str) -> Result<String, ValidationError> {
    bounded_line(field, value, MAX_NAME_CHARS)
}

/// A task title: trimmed, 1–500 characters, no control characters.
pub fn title(field: &'static str, value: &str) -> Result<String, ValidationError> {
    bounded_line(field, value, MAX_TITLE_CHARS)
}

fn bounded_line(field: &'static str, value: &str, max: usize) -> Result<String, ValidationError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    let chars = value.chars().count();
    if chars > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters (got {chars})"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// Markdown text: at most 100,000 characters; kept as written (never truncated).
pub fn description(field: &'static str, value: &str) -> Result<String, ValidationError> {
    let chars = value.chars().count();
    if chars > MAX_DESCRIPTION_CHARS {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters (got {chars})"),
        ));
    }
    if value.contains('\0') {
        return Err(ValidationError::new(
            field,
            "must not contain NUL characters",
        ));
    }
    Ok(value.to_owned())
}

/// An email address, trimmed. Deliberately permissive (one `@`, a dotted domain, no
/// spaces): the only real check of an address is mail reaching it. Case is kept for
/// display; uniqueness is case-insensitive in the database.
pub fn email(value: &str) -> Result<String, ValidationError> {
    let value = value.trim();
    let bad = || {
        ValidationError::new(
            "email",
            "is not a valid email address; write it as name@example.com",
        )
    };
    if value.chars().count() > MAX_EMAIL_CHARS {
        return Err(ValidationError::new(
            "email",
            format!("must be at most {MAX_EMAIL_CHARS} characters"),
        ));
    }
    let (local, domain) = value.split_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty()
        || !domain_ok
        || domain.contains('@')
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad());
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("name", "  Acme  "), Ok("Acme".into()));
        assert!(name("name", "   ").is_err());
        assert!(name("name", &"x".repeat(201)).is_err());
        assert!(name("name", "a\u{7}b").is_err());
        let err = name("name", &"x".repeat(250)).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("name: must be at most 200 characters (got 250)")
        );
    }

    #[test]
    fn emails() {
        assert_eq!(email(" Ann@Example.com "), Ok("Ann@Example.com".into()));
        for bad in [
            "",
            "a",
            "a@b",
            "@b.com",
            "a@b..com",
            "a b@c.com",
            "a@b@c.com",
            "a@.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn descriptions_are_not_truncated() {
        let long = "x".repeat(MAX_DESCRIPTION_CHARS);
        assert_eq!(
            description("description", &long).map(|s| s.len()),
            Ok(long.len())
        );
        assert!(description("description", &format!("{long}y")).is_err());
    }
}
