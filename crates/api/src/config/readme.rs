//! The README's configuration table, generated from the declarations. A test keeps the
//! README equal to [`table`]; `UPDATE_README=1 cargo test -p crust-api readme` rewrites
//! it after a setting changes.

use super::{Config, Setting};

/// Variables that are documented with the settings but not read into [`Config`]:
/// `CRUST_CONFIG` names the file the settings come from, and the test suite reads
/// `CRUST_TEST_DATABASE_URL` itself.
pub fn other_variables() -> Vec<Setting> {
    vec![
        Setting {
            env: "CRUST_CONFIG",
            default: "none".into(),
            allowed: None,
            doc: "Path of the optional TOML file.",
        },
        Setting {
            env: "CRUST_TEST_DATABASE_URL",
            default: "local `postgres` database".into(),
            allowed: None,
            doc: "Tests only: the server the test suite creates its databases on.",
        },
    ]
}

const HEADER: &str = "| variable | default | allowed | meaning |\n|---|---|---|---|\n";

/// The Markdown table: one row per setting, in declaration order.
pub fn table() -> String {
    let mut out = HEADER.to_owned();
    for s in Config::settings().into_iter().chain(other_variables()) {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            s.env,
            s.default,
            s.allowed.as_deref().unwrap_or(""),
            s.doc
        ));
    }
    out
}

#[cfg(test)]
/// Where the table sits in `readme`: from its header to the first line after it that
/// is not a table row. `None` when the README has no such table.
fn table_span(readme: &str) -> Option<(usize, usize)> {
    let start = readme.find("| variable | default |")?;
    let mut end = start;
    for line in readme[start..].split_inclusive('\n') {
        if !line.starts_with('|') {
            break;
        }
        end += line.len();
    }
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const README_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");

    /// Every `CRUST_*` variable the configuration's source names is declared (or listed
    /// in [`other_variables`]), and the README's table is exactly what the declarations
    /// produce: name, default, range and text of every row.
    #[test]
    fn every_setting_is_documented() {
        let declared: Vec<&str> = Config::settings()
            .iter()
            .chain(other_variables().iter())
            .map(|s| s.env)
            .collect();
        let sources = [
            include_str!("mod.rs"),
            include_str!("setting.rs"),
            include_str!("checks.rs"),
            include_str!("database.rs"),
            include_str!("auth.rs"),
            include_str!("rate_limits.rs"),
            include_str!("http.rs"),
            include_str!("graphql.rs"),
            include_str!("audit.rs"),
            include_str!("diagnostics.rs"),
            include_str!("files.rs"),
        ];
        let mut named: Vec<&str> = sources
            .iter()
            .flat_map(|s| {
                s.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            })
            .filter(|s| {
                (s.starts_with("CRUST_") && s.len() > "CRUST_".len()) || *s == "DATABASE_URL"
            })
            .collect();
        named.sort_unstable();
        named.dedup();
        assert!(named.len() >= 45, "{named:?}");
        for key in named {
            assert!(declared.contains(&key), "{key} is named but not declared");
        }
        readme_table_equals_the_declarations();
    }

    /// The README's configuration table is the generated one, row for row.
    #[test]
    fn readme_table_equals_the_declarations() {
        let readme = std::fs::read_to_string(README_PATH).unwrap();
        let (start, end) = table_span(&readme).expect("README.md has a configuration table");
        let generated = table();
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{generated}{}", &readme[..start], &readme[end..]);
            std::fs::write(README_PATH, updated).unwrap();
            return;
        }
        let in_readme: Vec<&str> = readme[start..end].lines().collect();
        let declared: Vec<&str> = generated.lines().collect();
        for (row, (a, b)) in in_readme.iter().zip(&declared).enumerate() {
            assert_eq!(
                a, b,
                "README row {row} differs from the declarations (UPDATE_README=1 rewrites it)"
            );
        }
        assert_eq!(
            in_readme.len(),
            declared.len(),
            "README has {} rows, the declarations {} (UPDATE_README=1 rewrites it)",
            in_readme.len(),
            declared.len()
        );
    }
}
