//! The messages Crust sends. Each is a fixed text with at most the recipient's own
//! name and a link into the app: never project, organization, task, comment or file
//! content (PRODUCT.md: emails carry links, never data).

/// Which message a row of the outbox is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Template {
    /// Sign-up: the link verifies the address.
    VerifyEmail,
    /// Someone signed up with an address that already has an account.
    SignUpAttempt,
    /// An invitation to join an organization (the link accepts it).
    Invitation,
    PasswordReset,
    PasswordChanged,
    /// A sign-in from an address and browser not seen for the account in 30 days.
    NewDevice,
    /// A spent refresh token came back: the session was ended.
    RefreshTokenReused,
    /// Too many failed sign-ins locked the account for one client.
    AccountLocked,
    /// To the old address (and the new one) once an address change is confirmed.
    EmailChanged,
    /// To the new address: the link confirms the change.
    ConfirmNewEmail,
    /// A task the recipient is assigned to became ready: its predecessor is done.
    TaskReady,
}

/// What a link in a message leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// An app page reached with the message's single-use token, e.g. `/verify-email`.
    WithToken(&'static str),
    /// A plain app page.
    Page(&'static str),
}

impl Template {
    pub const ALL: [Template; 11] = [
        Template::VerifyEmail,
        Template::SignUpAttempt,
        Template::Invitation,
        Template::PasswordReset,
        Template::PasswordChanged,
        Template::NewDevice,
        Template::RefreshTokenReused,
        Template::AccountLocked,
        Template::EmailChanged,
        Template::ConfirmNewEmail,
        Template::TaskReady,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Template::VerifyEmail => "VERIFY_EMAIL",
            Template::SignUpAttempt => "SIGN_UP_ATTEMPT",
            Template::Invitation => "INVITATION",
            Template::PasswordReset => "PASSWORD_RESET",
            Template::PasswordChanged => "PASSWORD_CHANGED",
            Template::NewDevice => "NEW_DEVICE",
            Template::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            Template::AccountLocked => "ACCOUNT_LOCKED",
            Template::EmailChanged => "EMAIL_CHANGED",
            Template::ConfirmNewEmail => "CONFIRM_NEW_EMAIL",
            Template::TaskReady => "TASK_READY",
        }
    }

    pub fn parse(s: &str) -> Option<Template> {
        Template::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Security notices go out whatever the user's notification settings say.
    pub fn is_security_notice(self) -> bool {
        matches!(
            self,
            Template::PasswordChanged
                | Template::NewDevice
                | Template::RefreshTokenReused
                | Template::AccountLocked
                | Template::EmailChanged
        )
    }

    /// Where the message's link leads. Tokens travel in the URL's fragment, which
    /// browsers never send to a server, so no web server or proxy log sees them.
    pub fn link(self) -> LinkKind {
        match self {
            Template::VerifyEmail => LinkKind::WithToken("/verify-email"),
            Template::Invitation => LinkKind::WithToken("/accept-invitation"),
            Template::PasswordReset => LinkKind::WithToken("/reset-password"),
            Template::ConfirmNewEmail => LinkKind::WithToken("/confirm-email"),
            Template::SignUpAttempt => LinkKind::Page("/sign-in"),
            Template::TaskReady => LinkKind::Page("/notifications"),
            Template::PasswordChanged
            | Template::NewDevice
            | Template::RefreshTokenReused
            | Template::AccountLocked
            | Template::EmailChanged => LinkKind::Page("/account/security"),
        }
    }

    /// The subject line and the fixed text before the link.
    pub fn text(self) -> (&'static str, &'static str) {
        match self {
            Template::VerifyEmail => (
                "Confirm your email address",
                "Someone, hopefully you, signed up for Crust with this address. Open the link below within 24 hours to confirm it and sign in. If it was not you, ignore this message: no account is made without the link.",
            ),
            Template::SignUpAttempt => (
                "Someone tried to sign up with your address",
                "Someone tried to sign up for Crust with this address, which already has an account. If it was you, sign in, or reset your password from the sign-in page. If it was not you, you need not do anything.",
            ),
            Template::Invitation => (
                "You are invited to Crust",
                "You have been invited to join an organization on Crust. Open the link below within 7 days to see the invitation and accept it. If you did not expect it, ignore this message.",
            ),
            Template::PasswordReset => (
                "Reset your password",
                "Someone, hopefully you, asked to reset the password of your Crust account. Open the link below within one hour to choose a new one. If it was not you, ignore this message: your password stays as it is.",
            ),
            Template::PasswordChanged => (
                "Your password was changed",
                "The password of your Crust account was just changed and your other sessions were ended. If it was not you, reset your password at once and tell your administrator.",
            ),
            Template::NewDevice => (
                "New sign-in to your account",
                "Your Crust account was just signed in to from a device or network it has not used in the last 30 days. If it was you, you need not do anything. If not, change your password and review your sessions.",
            ),
            Template::RefreshTokenReused => (
                "A session of yours was ended for safety",
                "A sign-in token of your Crust account that had already been used was presented again, which can mean it was copied. We ended that session. If you did not expect this, change your password and review your sessions.",
            ),
            Template::AccountLocked => (
                "Sign-ins to your account were blocked",
                "There were too many failed attempts to sign in to your Crust account, so we blocked further attempts from that place for a while. If it was not you, consider changing your password.",
            ),
            Template::EmailChanged => (
                "The email address of your account was changed",
                "The email address of your Crust account was just changed. If it was not you, contact your administrator at once.",
            ),
            Template::ConfirmNewEmail => (
                "Confirm your new email address",
                "Someone, hopefully you, asked to use this address for a Crust account. Open the link below within 24 hours to confirm it. If it was not you, ignore this message.",
            ),
            Template::TaskReady => (
                "A task of yours is ready to start",
                "A task you are assigned to can now start: the work it waits for is done. Open your notifications in Crust to see which.",
            ),
        }
    }
}

/// The longest name a greeting uses.
pub const MAX_GREETING_CHARS: usize = 64;

/// The name to greet someone by, if it is a plain name: letters, digits, spaces and
/// `.`, `-`, `'`, at most [`MAX_GREETING_CHARS`]. Anything else (markup, line breaks,
/// look-alike controls, a 10 KB string) greets without a name rather than a mangled
/// one: a message never carries text that could be markup or a header.
pub fn greeting_name(name: &str) -> Option<&str> {
    let name = name.trim();
    let plain = !name.is_empty()
        && name.chars().count() <= MAX_GREETING_CHARS
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '.' || c == '-' || c == '\'');
    plain.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_round_trips_through_its_name() {
        for t in Template::ALL {
            assert_eq!(Template::parse(t.as_str()), Some(t));
        }
        assert_eq!(Template::parse("NOPE"), None);
    }

    #[test]
    fn only_plain_names_are_used_in_greetings() {
        assert_eq!(
            greeting_name(" Zoë O'Brien-Smith "),
            Some("Zoë O'Brien-Smith")
        );
        for hostile in [
            "<b>Mallory</b>",
            "Eve\r\nBcc: victim@example.com",
            "Bob\u{202e}gnp.exe",
            "http://evil.example",
            "",
        ] {
            assert_eq!(greeting_name(hostile), None, "{hostile:?}");
        }
        assert_eq!(greeting_name(&"a".repeat(10_000)), None);
    }
}
