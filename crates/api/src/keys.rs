//! The server's keys as an operator sees them: which sign or hash, which only verify,
//! and how old each is. Ids made by `crust keys rotate-…` carry their creation date
//! (`jwt-20261130-3fa9c1`), so age needs no state beyond the configuration.

use chrono::NaiveDate;

use crate::config::Config;

/// What a configured key is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Makes new tokens, hashes or wrapped keys.
    Active,
    /// Only checks or unwraps what an older key made.
    Previous,
}

#[derive(Clone, Debug)]
pub struct KeyInUse {
    /// The kind of key, as the setting family names it.
    pub kind: &'static str,
    /// The setting that holds the id.
    pub setting: &'static str,
    pub id: String,
    pub role: Use,
    /// From a dated id; `None` when the id carries no date.
    pub created: Option<NaiveDate>,
}

/// `<prefix>-<YYYYMMDD>-<6 hex>`: dated, unique enough among one server's keys.
pub fn new_key_id(prefix: &str, today: NaiveDate) -> Result<String, getrandom::Error> {
    let mut random = [0u8; 3];
    getrandom::fill(&mut random)?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{prefix}-{}-{hex}", today.format("%Y%m%d")))
}

/// The date in an id made by [`new_key_id`].
pub fn key_date(id: &str) -> Option<NaiveDate> {
    let mut parts = id.rsplitn(3, '-');
    let _random = parts.next()?;
    let date = parts.next()?;
    parts.next()?;
    if date.len() != 8 {
        return None;
    }
    NaiveDate::parse_from_str(date, "%Y%m%d").ok()
}

/// Every key the configuration holds, active ones first within each kind.
pub fn keys_in_use(config: &Config) -> Vec<KeyInUse> {
    let mut keys = Vec::new();
    let mut add = |kind, setting, id: &str, role| {
        keys.push(KeyInUse {
            kind,
            setting,
            id: id.to_owned(),
            role,
            created: key_date(id),
        })
    };
    let auth = &config.auth;
    add("token signing", "CRUST_JWT_KID", &auth.jwt_kid, Use::Active);
    for id in sorted(auth.jwt_previous.keys()) {
        add(
            "token signing",
            "CRUST_JWT_PREVIOUS_KEYS",
            id,
            Use::Previous,
        );
    }
    add(
        "password pepper",
        "CRUST_PASSWORD_PEPPER_ID",
        &auth.password_pepper_id,
        Use::Active,
    );
    for id in sorted(auth.password_previous_peppers.keys()) {
        add(
            "password pepper",
            "CRUST_PASSWORD_PREVIOUS_PEPPERS",
            id,
            Use::Previous,
        );
    }
    add(
        "file master key",
        "CRUST_FILE_KEY_ID",
        &config.files.key_id,
        Use::Active,
    );
    for id in sorted(config.files.previous_keys.keys()) {
        add(
            "file master key",
            "CRUST_FILE_PREVIOUS_KEYS",
            id,
            Use::Previous,
        );
    }
    keys
}

fn sorted<'a>(ids: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut ids: Vec<&str> = ids.map(String::as_str).collect();
    ids.sort_unstable();
    ids
}

/// What a deployment check says about the active keys' age.
pub fn age_findings(config: &Config, today: NaiveDate) -> Vec<String> {
    let max = config.auth.key_max_age_days;
    keys_in_use(config)
        .into_iter()
        .filter(|k| k.role == Use::Active)
        .filter_map(|k| {
            let command = match k.kind {
                "token signing" => "crust keys rotate-jwt",
                "password pepper" => "crust keys rotate-pepper",
                _ => "crust keys rotate-files",
            };
            match k.created {
                Some(created) => {
                    let age = (today - created).num_days();
                    (age > max).then(|| {
                        format!(
                            "{} `{}` ({}) is {age} days old, over CRUST_KEY_MAX_AGE_DAYS = {max}: rotate it ({command})",
                            k.setting, k.id, k.kind
                        )
                    })
                }
                None => Some(format!(
                    "{} `{}` ({}) carries no date, so its age is unknown: rotate it once ({command}) to get a dated id",
                    k.setting, k.id, k.kind
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn dated_ids_round_trip_and_others_have_no_date() {
        let id = new_key_id("jwt", day("2026-11-30")).unwrap_or_default();
        assert!(id.starts_with("jwt-20261130-") && id.len() == "jwt-20261130-abcdef".len());
        assert_eq!(key_date(&id), Some(day("2026-11-30")));
        assert_eq!(key_date("pepper-20250101-00ff00"), Some(day("2025-01-01")));
        for undated in [
            "k1",
            "p1",
            "jwt-2026-ab",
            "jwt-20261340-abcdef",
            "x-123-abc",
        ] {
            assert_eq!(key_date(undated), None, "{undated}");
        }
    }
}
