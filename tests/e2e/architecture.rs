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
