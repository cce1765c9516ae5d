//! The layers depend one way only: cli → api → dal → domain, and the domain knows
//! nothing of databases or HTTP.

fn dependencies(krate: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../crates/{krate}/Cargo.toml"));
    let text = std::fs::read_to_string(path).unwrap();
    let section = text.split("[dependencies]").nth(1).unwrap();
    let section = section.split("\n[").next().unwrap();
    section
        .lines()
        .filter_map(|l| l.split(['=', '.']).next())
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty() && !n.starts_with('#'))
        .collect()
}

#[test]
fn layers_depend_one_way() {
    let crust = |k: &str| {
        dependencies(k)
            .into_iter()
            .filter(|d| d.starts_with("crust-"))
            .collect::<Vec<_>>()
    };
    assert!(crust("domain").is_empty());
    assert_eq!(crust("dal"), ["crust-domain"]);
    assert_eq!(crust("api"), ["crust-domain", "crust-dal"]);
    assert_eq!(crust("cli"), ["crust-domain", "crust-dal", "crust-api"]);
    let domain = dependencies("domain");
    for io in ["diesel", "actix-web", "async-graphql", "tokio", "r2d2"] {
        assert!(
            !domain.iter().any(|d| d == io),
            "the domain crate must not depend on {io}"
        );
    }
    let dal = dependencies("dal");
    for http in ["actix-web", "async-graphql"] {
        assert!(
            !dal.iter().any(|d| d == http),
            "the DAL must not depend on {http}"
        );
    }
}

fn sources(krate: &str) -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../crates/{krate}/src"));
    walk(&dir, &mut out);
    out
}

/// The DAL is the only way to the database: the API cannot reach diesel, the DAL's
/// schema is private, and the operator's proof is the CLI's alone.
#[test]
fn the_dal_boundary_is_a_type_the_compiler_checks() {
    let api = dependencies("api");
    for db in [
        "diesel",
        "diesel_migrations",
        "r2d2",
        "postgres",
        "tokio-postgres",
        "sqlx",
    ] {
        assert!(
            !api.iter().any(|d| d == db),
            "the API must not depend on {db}"
        );
    }
    let manifest = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/api/Cargo.toml"),
    )
    .unwrap();
    assert!(
        !manifest.contains("operator"),
        "the API must not enable the DAL's `operator` feature"
    );
    for (path, text) in sources("api") {
        for word in [
            "diesel",
            "Operator",
            "at_console",
            "crust_dal::admin",
            "run_pending",
            "revert_all",
        ] {
            assert!(!text.contains(word), "{path} names `{word}`");
        }
    }
    let lib = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/dal/src/lib.rs"),
    )
    .unwrap();
    assert!(
        lib.contains("\nmod schema;"),
        "the diesel schema stays private to the DAL"
    );
    assert!(!lib.contains("pub mod schema") && !lib.contains("pub use schema"));
}

/// Every public DAL function that takes no `Actor` is listed, with why, in the DAL's
/// crate documentation; a new one fails here until it is.
#[test]
fn every_dal_entry_point_without_an_actor_is_documented() {
    let lib = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/dal/src/lib.rs"),
    )
    .unwrap();
    let documented: String = lib
        .lines()
        .filter(|l| l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut missing = Vec::new();
    for (path, text) in sources("dal") {
        // A file in a module's folder (src/recipes/read.rs) belongs to that module, so
        // splitting a module into files keeps its functions checked.
        let module = path
            .split("/src/")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        // Functions of private modules are not entry points.
        if module != "lib" && !lib.contains(&format!("pub mod {module};")) {
            continue;
        }
        let mut rest = text.as_str();
        while let Some(at) = rest.find("pub fn ") {
            let line_start = rest[..at].rfind('\n').map_or(0, |i| i + 1);
            let indented = at > line_start;
            let after = &rest[at + "pub fn ".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let params = after.find('(').map_or("", |open| {
                let close = after[open..]
                    .find(") ->")
                    .or_else(|| after[open..].find(")\n"))
                    .or_else(|| after[open..].find(") {"));
                close.map_or("", |c| &after[open + 1..open + c])
            });
            rest = after;
            let first = params.split(',').next().unwrap_or("").trim();
            let in_tests = path.ends_with("/tests.rs")
                || path
                    .split("/src/")
                    .nth(1)
                    .is_some_and(|p| p.contains("tests/"));
            if first.contains("self") || params.contains("Actor") || in_tests {
                continue;
            }
            // Associated functions are listed as Type::name; the test finds `::name`.
            let listed = if indented {
                documented.contains(&format!("::{name}`"))
            } else {
                documented.contains(&format!("`{module}::{name}`"))
                    || (module == "lib" && documented.contains(&format!("`{name}`")))
            };
            if !listed {
                missing.push(format!("{module}::{name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "list these in crates/dal/src/lib.rs with why: {missing:?}"
    );
}
