//! The password policy of PRODUCT.md: 8–128 characters of any script, never truncated,
//! none of the 10,000 most common passwords, no composition rules.
//!
//! The bundled list is the first 10,000 entries (most common first) of Django's
//! `common-passwords.txt` (Royce Williams' list, BSD licence), in `data/`.

use std::collections::HashSet;
use std::sync::OnceLock;

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

const COMMON: &str = include_str!("../data/common-passwords.txt");

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("password must be at least {MIN_CHARS} characters long")]
    TooShort,
    #[error("password must be at most {MAX_CHARS} characters long")]
    TooLong,
    #[error("password is one of the 10,000 most common passwords; choose another")]
    TooCommon,
}

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Checks a new password against the policy. Length counts characters (Unicode scalar
/// values), not bytes, so every script gets the same room.
pub fn check_new_password(password: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(PasswordError::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordError::TooLong);
    }
    if common().contains(password.to_lowercase().as_str()) {
        return Err(PasswordError::TooCommon);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_has_ten_thousand_entries() {
        assert_eq!(common().len(), 10_000);
    }

    #[test]
    fn lengths_are_counted_in_characters() {
        assert_eq!(check_new_password("short"), Err(PasswordError::TooShort));
        // 7 characters, 21 bytes: still too short.
        assert_eq!(check_new_password("ขอบคุณค"), Err(PasswordError::TooShort));
        // 8 characters of another script is fine.
        assert_eq!(check_new_password("ขอบคุณครับ"), Ok(()));
        assert_eq!(check_new_password(&"é".repeat(128)), Ok(()));
        assert_eq!(
            check_new_password(&"é".repeat(129)),
            Err(PasswordError::TooLong)
        );
    }

    #[test]
    fn common_passwords_are_refused_case_insensitively() {
        assert_eq!(
            check_new_password("password1"),
            Err(PasswordError::TooCommon)
        );
        assert_eq!(
            check_new_password("PASSWORD1"),
            Err(PasswordError::TooCommon)
        );
        assert_eq!(
            check_new_password("12345678"),
            Err(PasswordError::TooCommon)
        );
        assert_eq!(check_new_password("correct horse battery staple"), Ok(()));
    }
}
