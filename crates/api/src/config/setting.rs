//! How a setting is declared: the [`settings!`] macro writes a group's struct, its
//! loader, its range checks and its README rows from one entry per setting, so a
//! setting's variable, default, range and text cannot drift apart.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::{RangeFrom, RangeInclusive, RangeToInclusive};
use std::path::PathBuf;

use super::{Problems, Profile};

/// One documented setting: a row of the README's configuration table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The environment variable; the file key is derived from it ([`file_key`]).
    pub env: &'static str,
    /// What the README says about an unset value.
    pub default: String,
    /// The allowed values, when the setting has a range (`2 to 64`, `at least 1`).
    pub allowed: Option<String>,
    /// One line for the README (Markdown).
    pub doc: &'static str,
}

/// The key of a setting in the optional TOML file: the variable in lower case without
/// `CRUST_` (`CRUST_BIND` → `bind`, `DATABASE_URL` → `database_url`). Derived, never
/// written, so the file and the environment cannot name a setting differently.
pub fn file_key(env: &str) -> String {
    env.strip_prefix("CRUST_")
        .unwrap_or(env)
        .to_ascii_lowercase()
}

/// What an unset setting becomes. Defaults are written as text and parsed like a
/// variable's value, so the README shows exactly the value the server uses.
#[derive(Clone, Copy)]
pub enum DefaultValue {
    /// Nothing: an absent option or an empty list; the README says the text given.
    Unset(&'static str),
    /// This value in every profile.
    Is(&'static str),
    /// This value in every profile, with a reader's note (`900` (15 min)).
    IsNoted(&'static str, &'static str),
    /// The first value outside prod, the second in prod.
    OutsideProd(&'static str, &'static str),
    /// Worked out from the profile; the README shows the text given.
    FromProfile(fn(Profile) -> String, &'static str),
}

impl DefaultValue {
    /// The text to parse for `profile`, `None` when the setting stays unset.
    pub fn text(&self, profile: Profile) -> Option<String> {
        match *self {
            DefaultValue::Unset(_) => None,
            DefaultValue::Is(v) | DefaultValue::IsNoted(v, _) => Some(v.to_owned()),
            DefaultValue::OutsideProd(other, prod) => Some(
                if profile == Profile::Prod {
                    prod
                } else {
                    other
                }
                .to_owned(),
            ),
            DefaultValue::FromProfile(f, _) => Some(f(profile)),
        }
    }

    /// The README's "default" cell.
    pub fn shown(&self) -> String {
        match *self {
            DefaultValue::Unset(shown) | DefaultValue::FromProfile(_, shown) => shown.to_owned(),
            DefaultValue::Is(v) => format!("`{v}`"),
            DefaultValue::IsNoted(v, note) => format!("`{v}` ({note})"),
            DefaultValue::OutsideProd(other, prod) => format!("`{other}` (`{prod}` in prod)"),
        }
    }
}

/// The TOML type a setting's file value must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Text,
    Integer,
    Boolean,
}

/// A type a setting can hold: parsed from a variable's text (or a file value turned
/// into text). Parse errors may quote the text only for types that are never secret.
pub trait Value: Sized {
    const FILE_TYPE: FileType = FileType::Text;
    fn parse(text: &str) -> Result<Self, String>;
    /// The value of a setting left unset ([`DefaultValue::Unset`]); `None` for types that
    /// need a default.
    fn unset() -> Option<Self> {
        None
    }
}

macro_rules! value_from_str {
    ($file_type:expr => $($ty:ty),*) => {$(
        impl Value for $ty {
            const FILE_TYPE: FileType = $file_type;
            fn parse(text: &str) -> Result<Self, String> {
                text.parse().map_err(|e| format!("`{text}` is not valid: {e}"))
            }
        }
    )*};
}
value_from_str!(FileType::Integer => i64, u32, u64, usize);
value_from_str!(FileType::Boolean => bool);

impl Value for String {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
}

impl Value for PathBuf {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.into())
    }
}

impl Value for SocketAddr {
    fn parse(text: &str) -> Result<Self, String> {
        text.parse()
            .map_err(|_| format!("`{text}` is not an address like 127.0.0.1:8080"))
    }
}

impl<T: Value> Value for Option<T> {
    const FILE_TYPE: FileType = T::FILE_TYPE;
    fn parse(text: &str) -> Result<Self, String> {
        T::parse(text).map(Some)
    }
    fn unset() -> Option<Self> {
        Some(None)
    }
}

/// Comma-separated IP addresses.
impl Value for Vec<IpAddr> {
    fn parse(text: &str) -> Result<Self, String> {
        comma_separated(text)
            .map(|p| p.parse().map_err(|_| format!("`{p}` is not an IP address")))
            .collect()
    }
    fn unset() -> Option<Self> {
        Some(Vec::new())
    }
}

/// Comma-separated origins; a trailing `/` is dropped, as browsers send none.
impl Value for Vec<String> {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(comma_separated(text)
            .map(|o| o.trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect())
    }
    fn unset() -> Option<Self> {
        Some(Vec::new())
    }
}

/// `kid=secret,kid=secret`. The error never quotes the text: it holds secrets.
impl Value for HashMap<String, Secret> {
    fn parse(text: &str) -> Result<Self, String> {
        comma_separated(text)
            .map(|pair| {
                let (kid, secret) = pair
                    .split_once('=')
                    .ok_or("expected a comma-separated list of kid=secret")?;
                Ok((kid.trim().to_owned(), Secret::new(secret.trim())))
            })
            .collect()
    }
    fn unset() -> Option<Self> {
        Some(HashMap::new())
    }
}

fn comma_separated(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|p| !p.is_empty())
}

/// A secret that never prints, not even in a parse error.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl Value for Secret {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(Secret::new(text))
    }
}

/// A setting's allowed values: `a..=b`, `a..` or `..=b`.
pub trait Allowed<T> {
    fn allows(&self, value: &T) -> bool;
    /// For the README (`2 to 64`).
    fn describe(&self) -> String;
    /// For the error (`must be between 2 and 64`).
    fn problem(&self) -> String;
}

impl<T: PartialOrd + fmt::Display> Allowed<T> for RangeInclusive<T> {
    fn allows(&self, value: &T) -> bool {
        self.contains(value)
    }
    fn describe(&self) -> String {
        format!("{} to {}", self.start(), self.end())
    }
    fn problem(&self) -> String {
        format!("must be between {} and {}", self.start(), self.end())
    }
}

impl<T: PartialOrd + fmt::Display> Allowed<T> for RangeFrom<T> {
    fn allows(&self, value: &T) -> bool {
        self.contains(value)
    }
    fn describe(&self) -> String {
        format!("at least {}", self.start)
    }
    fn problem(&self) -> String {
        format!("must be at least {}", self.start)
    }
}

impl<T: PartialOrd + fmt::Display> Allowed<T> for RangeToInclusive<T> {
    fn allows(&self, value: &T) -> bool {
        self.contains(value)
    }
    fn describe(&self) -> String {
        format!("at most {}", self.end)
    }
    fn problem(&self) -> String {
        format!("must be at most {}", self.end)
    }
}

/// Pushes the range problem of one value, if any.
pub fn check_range<T>(
    env: &'static str,
    allowed: &impl Allowed<T>,
    value: &T,
    problems: &mut Problems,
) {
    if !allowed.allows(value) {
        problems.invalid(env, allowed.problem());
    }
}

/// Declares a group of settings. For each entry it writes the struct field (documented
/// with the entry's `doc`), loads it (environment, else file, else default), checks its
/// range and optional `check`, and lists it for the README:
///
/// ```text
/// pub max_depth: usize {
///     env: "CRUST_GRAPHQL_MAX_DEPTH",
///     default: Is("15"),
///     range: 2..=64,
///     doc: "Deepest selection nesting a query may have.",
/// },
/// ```
///
/// `default:` names a [`DefaultValue`] variant. `parse:` replaces the type's parser for one setting; `check:` adds a rule on the
/// loaded value (`fn(&T) -> Result<(), String>`) that [`super::Config::validate`] runs.
macro_rules! settings {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                pub $field:ident: $ty:ty {
                    env: $env:literal,
                    default: $dkind:ident ( $($darg:expr),* $(,)? ),
                    $(range: $range:expr,)?
                    $(parse: $parse:expr,)?
                    $(check: $check:expr,)?
                    doc: $doc:literal $(,)?
                }
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        pub struct $name {
            $( #[doc = $doc] pub $field: $ty, )*
        }

        impl $name {
            /// This group's settings, in declaration order (the README's rows).
            pub fn settings() -> Vec<$crate::config::setting::Setting> {
                vec![$(
                    $crate::config::setting::Setting {
                        env: $env,
                        default: $crate::config::setting::DefaultValue::$dkind($($darg),*).shown(),
                        allowed: None $( .or(Some(
                            $crate::config::setting::Allowed::<$ty>::describe(&$range)
                        )) )?,
                        doc: $doc,
                    },
                )*]
            }

            /// Loads every setting; a value that does not parse is a problem, and the
            /// group is `None` when any is.
            pub(crate) fn load(
                source: &$crate::config::Source,
                profile: $crate::config::Profile,
                problems: &mut $crate::config::Problems,
            ) -> Option<Self> {
                $(
                    #[allow(unused_variables)]
                    let parse = <$ty as $crate::config::setting::Value>::parse;
                    $( let parse: fn(&str) -> Result<$ty, String> = $parse; )?
                    let $field: Option<$ty> = source.value(
                        $env,
                        <$ty as $crate::config::setting::Value>::FILE_TYPE,
                        &$crate::config::setting::DefaultValue::$dkind($($darg),*),
                        profile,
                        parse,
                        <$ty as $crate::config::setting::Value>::unset,
                        problems,
                    );
                )*
                Some(Self { $( $field: $field?, )* })
            }

            /// Each setting's range and own rule.
            // A group without ranges or rules leaves `problems` unused.
            #[allow(unused_variables)]
            pub(crate) fn check(&self, problems: &mut $crate::config::Problems) {
                $(
                    $( $crate::config::setting::check_range($env, &$range, &self.$field, problems); )?
                    $(
                        let check: fn(&$ty) -> Result<(), String> = $check;
                        if let Err(problem) = check(&self.$field) {
                            problems.invalid($env, problem);
                        }
                    )?
                )*
            }
        }
    };
}
pub(crate) use settings;
