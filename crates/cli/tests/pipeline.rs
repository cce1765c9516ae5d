//! The delivery files, read: bitbucket-pipelines.yml, the Dockerfile and .dockerignore,
//! deny.toml, .ci/run and docker-compose.yml. None of them can run here (no Bitbucket, no
//! Docker engine), so their shape is checked: the steps and their order, every cache and
//! service a step names, the image's health check and user, the dependency policy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

/// The caches Bitbucket defines itself (its "pre-defined caches"). Of these the pipeline
/// relies on `docker` only; there is no predefined cache for cargo.
const PREDEFINED_CACHES: &[&str] = &[
    "docker",
    "composer",
    "dotnetcore",
    "gradle",
    "ivy2",
    "maven",
    "node",
    "pip",
    "sbt",
];

/// Bitbucket's own service: Docker-in-Docker for `docker build`.
const PREDEFINED_SERVICES: &[&str] = &["docker"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Yaml {
    YamlLoader::load_from_str(&read(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .remove(0)
}

fn strings(node: &Yaml) -> Vec<String> {
    node.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn keys(node: &Yaml) -> Vec<String> {
    node.as_hash()
        .map(|h| {
            h.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// One step as the pipeline file gives it (anchors already resolved by the loader).
#[derive(Clone, Debug)]
struct Step {
    name: String,
    script: Vec<String>,
    caches: Vec<String>,
    services: Vec<String>,
    trigger: Option<String>,
    deployment: Option<String>,
}

impl Step {
    fn of(node: &Yaml) -> Step {
        Step {
            name: node["name"].as_str().unwrap_or_default().to_owned(),
            script: strings(&node["script"]),
            caches: strings(&node["caches"]),
            services: strings(&node["services"]),
            trigger: node["trigger"].as_str().map(str::to_owned),
            deployment: node["deployment"].as_str().map(str::to_owned),
        }
    }

    fn runs(&self, wanted: impl Fn(&str) -> bool) -> bool {
        self.script.iter().any(|line| wanted(line.trim()))
    }

    fn is_lint(&self) -> bool {
        self.runs(|l| l == "cargo fmt --all -- --check")
            && self.runs(|l| {
                l.starts_with("cargo clippy")
                    && l.contains("--workspace")
                    && l.contains("--all-targets")
                    && l.ends_with("-- -D warnings")
            })
    }

    fn is_deny(&self) -> bool {
        self.runs(|l| l.starts_with("cargo deny check"))
    }

    fn is_test(&self) -> bool {
        self.runs(|l| l == "cargo test --workspace")
            && self.services.iter().any(|s| s == "postgres")
    }

    fn is_deploy(&self) -> bool {
        self.runs(|l| l.starts_with("docker build"))
    }
}

/// A pipeline's stages in order: a step alone, or the steps of a `parallel` group.
fn stages(pipeline: &Yaml) -> Vec<Vec<Step>> {
    pipeline
        .as_vec()
        .unwrap_or_else(|| panic!("a pipeline is a list: {pipeline:?}"))
        .iter()
        .map(|entry| {
            if !entry["step"].is_badvalue() {
                vec![Step::of(&entry["step"])]
            } else {
                let group = &entry["parallel"];
                // `parallel:` is a list of steps, or (newer syntax) has them under `steps:`.
                let list = if group["steps"].is_badvalue() {
                    group
                } else {
                    &group["steps"]
                };
                let steps: Vec<Step> = list
                    .as_vec()
                    .unwrap_or_else(|| panic!("neither a step nor a parallel group: {entry:?}"))
                    .iter()
                    .map(|s| Step::of(&s["step"]))
                    .collect();
                assert!(!steps.is_empty(), "an empty parallel group");
                steps
            }
        })
        .collect()
}

/// Every pipeline: `default`, each branch's, tag's, pull request's and custom one.
fn pipelines(doc: &Yaml) -> Vec<(String, Vec<Vec<Step>>)> {
    let all = &doc["pipelines"];
    let mut found = Vec::new();
    if !all["default"].is_badvalue() {
        found.push(("default".to_owned(), stages(&all["default"])));
    }
    for kind in ["branches", "tags", "pull-requests", "custom"] {
        for name in keys(&all[kind]) {
            let pipeline = &all[kind][name.as_str()];
            found.push((format!("{kind}.{name}"), stages(pipeline)));
        }
    }
    found
}

fn pipeline_file() -> Yaml {
    yaml("bitbucket-pipelines.yml")
}

fn position(stages: &[Vec<Step>], which: impl Fn(&Step) -> bool) -> Option<usize> {
    stages.iter().position(|stage| stage.iter().any(&which))
}

#[test]
fn every_push_is_linted_checked_by_cargo_deny_and_tested() {
    let doc = pipeline_file();
    let all = pipelines(&doc);
    for wanted in ["default", "branches.main"] {
        let (_, stages) = all
            .iter()
            .find(|(name, _)| name == wanted)
            .unwrap_or_else(|| panic!("no {wanted} pipeline"));
        let lint = position(stages, Step::is_lint);
        let deny = position(stages, Step::is_deny);
        let test = position(stages, Step::is_test);
        assert!(
            lint.is_some(),
            "{wanted}: no step runs `cargo fmt --all -- --check` and `cargo clippy --workspace --all-targets -- -D warnings`"
        );
        assert!(deny.is_some(), "{wanted}: no step runs `cargo deny check`");
        assert!(
            test.is_some(),
            "{wanted}: no step runs `cargo test --workspace` with the postgres service"
        );
    }
    // The static analysis is cargo-deny's, all four checks (cargo-audit is gone).
    let deny = all
        .iter()
        .flat_map(|(_, s)| s.iter().flatten())
        .find(|s| s.is_deny())
        .unwrap();
    assert!(
        deny.runs(|l| l == "cargo deny check"),
        "the static-analysis step runs every check (advisories, bans, licenses, sources): {:?}",
        deny.script
    );
    assert!(
        !doc_text().contains("cargo audit") && !doc_text().contains("cargo-audit"),
        "cargo-audit is replaced by cargo deny"
    );
    // The tests' database: the postgres image the BI replica tests need (same major
    // version as the build container's postgresql-15).
    let postgres = &doc["definitions"]["services"]["postgres"];
    assert_eq!(postgres["image"].as_str(), Some("postgres:15"));
    let test = all
        .iter()
        .flat_map(|(_, s)| s.iter().flatten())
        .find(|s| s.is_test())
        .unwrap();
    assert!(
        test.runs(|l| l.contains("postgresql-15")),
        "the test step installs postgresql-15: {:?}",
        test.script
    );
}

fn doc_text() -> String {
    read("bitbucket-pipelines.yml")
}

#[test]
fn deploy_is_a_manual_step_on_main_after_every_check_and_builds_the_image() {
    let doc = pipeline_file();
    for (name, stages) in pipelines(&doc) {
        let deploys: Vec<usize> = stages
            .iter()
            .enumerate()
            .filter(|(_, stage)| stage.iter().any(Step::is_deploy))
            .map(|(i, _)| i)
            .collect();
        if name != "branches.main" {
            assert!(deploys.is_empty(), "{name} deploys: only main may");
            continue;
        }
        assert_eq!(deploys.len(), 1, "main: one deploy step, found {deploys:?}");
        let at = deploys[0];
        let stage = &stages[at];
        assert_eq!(
            stage.len(),
            1,
            "the deploy step runs alone, not in a parallel group"
        );
        let deploy = &stage[0];
        assert_eq!(
            deploy.trigger.as_deref(),
            Some("manual"),
            "deploy: someone presses the button"
        );
        assert_eq!(deploy.deployment.as_deref(), Some("production"));
        assert!(
            deploy.services.iter().any(|s| s == "docker"),
            "docker build needs the docker service: {deploy:?}"
        );
        // Every check comes before it (a failed step stops the pipeline there).
        for (what, check) in [
            ("lint", Step::is_lint as fn(&Step) -> bool),
            ("cargo deny", Step::is_deny),
            ("tests", Step::is_test),
        ] {
            let before = position(&stages, check).unwrap_or_else(|| panic!("main: no {what}"));
            assert!(
                before < at,
                "main: {what} (stage {before}) runs after deploy ({at})"
            );
        }
        assert_eq!(at, stages.len() - 1, "nothing runs after the deploy step");
    }
    // Only the deploy waits for a person; the checks run on every push by themselves.
    for (name, stages) in pipelines(&doc) {
        for step in stages.iter().flatten().filter(|s| !s.is_deploy()) {
            assert_ne!(
                step.trigger.as_deref(),
                Some("manual"),
                "{name}: {} is manual",
                step.name
            );
        }
    }
}

#[test]
fn every_cache_and_service_a_step_names_is_defined() {
    let doc = pipeline_file();
    let caches = &doc["definitions"]["caches"];
    let defined_caches = keys(caches);
    let defined_services = keys(&doc["definitions"]["services"]);
    let mut used_caches = Vec::new();
    for (name, stages) in pipelines(&doc) {
        for step in stages.iter().flatten() {
            for cache in &step.caches {
                assert!(
                    defined_caches.contains(cache) || PREDEFINED_CACHES.contains(&cache.as_str()),
                    "{name}: step `{}` uses cache `{cache}`, neither defined under definitions.caches nor predefined by Bitbucket ({PREDEFINED_CACHES:?})",
                    step.name
                );
                used_caches.push(cache.clone());
            }
            for service in &step.services {
                assert!(
                    defined_services.contains(service)
                        || PREDEFINED_SERVICES.contains(&service.as_str()),
                    "{name}: step `{}` uses service `{service}`, not defined under definitions.services",
                    step.name
                );
            }
        }
    }
    // Each defined cache is used, and says where it lives. In the rust image CARGO_HOME
    // is /usr/local/cargo: a cache of ~/.cargo/... would save nothing.
    let image = doc["image"].as_str().unwrap_or_default();
    for name in &defined_caches {
        assert!(
            used_caches.contains(name),
            "cache `{name}` is defined but never used"
        );
        let entry = &caches[name.as_str()];
        let path = entry
            .as_str()
            .or_else(|| entry["path"].as_str())
            .unwrap_or_else(|| panic!("cache `{name}` has no path: {entry:?}"));
        assert!(!path.is_empty(), "cache `{name}`: empty path");
        if image.starts_with("rust:") {
            assert!(
                !path.starts_with("~/.cargo/"),
                "cache `{name}` ({path}): the rust image's CARGO_HOME is /usr/local/cargo"
            );
        }
    }
    // The predefined names the pipeline relies on are exactly these.
    let predefined_used: Vec<&String> = used_caches
        .iter()
        .filter(|c| !defined_caches.contains(c))
        .collect();
    assert!(
        predefined_used.iter().all(|c| c.as_str() == "docker"),
        "predefined caches used: {predefined_used:?}"
    );
}

#[test]
fn the_hidden_pipeline_file_is_a_link_to_the_real_one() {
    let link = root().join(".bitbucket-pipelines.yml");
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(
        meta.file_type().is_symlink(),
        "{} is not a symlink",
        link.display()
    );
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("bitbucket-pipelines.yml")
    );
    assert_eq!(
        read(".bitbucket-pipelines.yml"),
        read("bitbucket-pipelines.yml")
    );
}

/// The Dockerfile's instructions: (KEYWORD, arguments), continuation lines joined and
/// comment lines dropped, as Docker reads them.
fn dockerfile() -> Vec<(String, String)> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in read("Dockerfile").lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(start) = trimmed.strip_suffix('\\') {
            current.push_str(start);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (keyword, args) = current
            .split_once(char::is_whitespace)
            .unwrap_or((&current, ""));
        instructions.push((keyword.to_uppercase(), args.trim().to_owned()));
        current.clear();
    }
    instructions
}

#[test]
fn the_image_checks_its_health_runs_as_a_user_and_builds_from_a_lean_context() {
    let instructions = dockerfile();
    let last_from = instructions
        .iter()
        .rposition(|(k, _)| k == "FROM")
        .expect("a FROM");
    let runtime = &instructions[last_from..];
    let one = |keyword: &str| -> Vec<&String> {
        runtime
            .iter()
            .filter(|(k, _)| k == keyword)
            .map(|(_, a)| a)
            .collect()
    };
    // HEALTHCHECK [options] CMD ["crust", "healthcheck"] (or the shell form).
    let health = one("HEALTHCHECK");
    assert_eq!(
        health.len(),
        1,
        "one HEALTHCHECK in the final stage: {health:?}"
    );
    let command = health[0]
        .split_once("CMD")
        .map(|(_, c)| c.replace(['[', ']', '"', ','], " "))
        .unwrap_or_default();
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(
        words.get(..2),
        Some(&["crust", "healthcheck"][..]),
        "HEALTHCHECK runs `crust healthcheck`: {}",
        health[0]
    );
    // Not root: the last USER of the final stage names someone else.
    let user = one("USER")
        .last()
        .map(|u| u.trim().to_owned())
        .expect("a USER in the final stage");
    assert!(
        !["root", "0", "0:0", "root:root"].contains(&user.as_str()),
        "USER {user}"
    );

    // Dependencies first: every member's manifest (and Cargo.lock) is copied before the
    // first `cargo build`, the sources only after it; migrations/ is embedded, so copied.
    let first_build = instructions
        .iter()
        .position(|(k, a)| k == "RUN" && a.contains("cargo build"))
        .expect("a cargo build");
    let copied_before: Vec<&String> = instructions[..first_build]
        .iter()
        .filter(|(k, _)| k == "COPY")
        .map(|(_, a)| a)
        .collect();
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    let members: Vec<&str> = manifest["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    for file in members
        .iter()
        .map(|m| format!("{m}/Cargo.toml"))
        .chain(["Cargo.lock".to_owned()])
    {
        assert!(
            copied_before
                .iter()
                .any(|c| c.split_whitespace().any(|w| w == file)),
            "{file} is not copied before the dependency build: {copied_before:?}"
        );
    }
    assert!(
        copied_before.iter().all(|c| !c.starts_with(". ")),
        "the whole context is copied before the dependency build (no caching)"
    );
    let sources_after: Vec<&String> = instructions[first_build..]
        .iter()
        .filter(|(k, _)| k == "COPY")
        .map(|(_, a)| a)
        .collect();
    for dir in ["crates", "migrations"] {
        assert!(
            sources_after
                .iter()
                .any(|c| c.starts_with(&format!("{dir} "))),
            "{dir}/ is not copied for the real build: {sources_after:?}"
        );
    }

    // The build context leaves out build output, history, logs and secrets.
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_start_matches('/').to_owned())
        .collect();
    for wanted in ["target", ".git", "*.log", ".env", "deploy/replica/tls"] {
        assert!(
            ignored.iter().any(|l| l == wanted),
            ".dockerignore does not exclude {wanted}: {ignored:?}"
        );
    }
    assert!(
        !ignored.iter().any(|l| l.starts_with('!')),
        "no re-inclusion in .dockerignore: {ignored:?}"
    );
}

fn deny_toml() -> toml::Table {
    read("deny.toml").parse().expect("deny.toml parses")
}

#[test]
fn deny_toml_bans_openssl_and_allows_crates_io_only() {
    let deny = deny_toml();
    let bans = &deny["bans"];
    let banned: Vec<&str> = bans["deny"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| match entry {
            toml::Value::String(name) => name.as_str(),
            toml::Value::Table(t) => t
                .get("crate")
                .or_else(|| t.get("name"))
                .and_then(|n| n.as_str())
                .unwrap(),
            other => panic!("a deny entry: {other:?}"),
        })
        .map(|spec| spec.split('@').next().unwrap())
        .collect();
    for crate_name in [
        "openssl",
        "openssl-sys",
        "native-tls",
        "aws-lc-rs",
        "aws-lc-sys",
    ] {
        assert!(
            banned.contains(&crate_name),
            "{crate_name} is not banned: {banned:?}"
        );
    }
    assert!(!banned.contains(&"ring"), "ring is our crypto provider");
    assert_eq!(bans["multiple-versions"].as_str(), Some("warn"));

    let sources = &deny["sources"];
    assert_eq!(sources["unknown-registry"].as_str(), Some("deny"));
    assert_eq!(sources["unknown-git"].as_str(), Some("deny"));
    assert_eq!(
        sources["allow-registry"].as_array().map(Vec::as_slice),
        Some(
            &[toml::Value::from(
                "https://github.com/rust-lang/crates.io-index"
            )][..]
        )
    );
    assert!(sources
        .get("allow-git")
        .and_then(|g| g.as_array())
        .is_none_or(|g| g.is_empty()));

    let licenses = &deny["licenses"];
    assert_eq!(licenses["private"]["ignore"].as_bool(), Some(true));
    let allowed: Vec<&str> = licenses["allow"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(allowed.contains(&"MIT") && allowed.contains(&"Apache-2.0"));
    assert!(
        allowed.iter().all(|l| !l.contains("GPL")),
        "no GPL licence allowed: {allowed:?}"
    );
    assert!(deny.contains_key("advisories"));
}

/// .ci/run: cargo deny after clippy and before the tests, at the version the pipeline
/// installs (the one deny.toml is written for).
#[test]
fn ci_run_checks_cargo_deny_between_clippy_and_the_tests() {
    let script = read(".ci/run");
    let at = |needle: &str| {
        script
            .find(needle)
            .unwrap_or_else(|| panic!(".ci/run does not run {needle}"))
    };
    let clippy = at("cargo clippy --workspace --all-targets -- -D warnings");
    let deny = at("check licenses bans sources");
    let advisories = at("cargo deny check advisories");
    let tests = at("cargo test --workspace");
    assert!(clippy < deny && deny < advisories && advisories < tests);

    let version_in = |text: &str, prefix: &str| -> String {
        let start = text.find(prefix).unwrap_or_else(|| panic!("no {prefix}")) + prefix.len();
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect()
    };
    let ci = version_in(&script, "deny_version=");
    let pipeline = version_in(&doc_text(), "CARGO_DENY_VERSION=");
    assert!(!ci.is_empty(), ".ci/run pins no cargo-deny version");
    assert_eq!(
        ci, pipeline,
        "cargo-deny: .ci/run and the pipeline install different versions"
    );
    assert!(
        read("deny.toml").contains(&format!("written for {}", ci.rsplit_once('.').unwrap().0)),
        "deny.toml says which cargo-deny it is written for ({ci})"
    );
}

/// docker-compose.yml: the services the README names, the API and the migration built
/// from this Dockerfile.
#[test]
fn the_compose_file_has_the_services_the_readme_names() {
    let compose = yaml("docker-compose.yml");
    let services = &compose["services"];
    let names = keys(services);
    let readme = read("README.md");
    let paragraph = readme
        .split("\n\n")
        .find(|p| p.starts_with("**Compose.**"))
        .expect("the README's Compose paragraph");
    for (service, as_named) in [
        ("migrate", "`migrate` service"),
        ("api", "the API"),
        ("db-primary", "as primary"),
        ("db-replica", "replica"),
        ("mail", "Mailpit"),
    ] {
        assert!(
            paragraph.contains(as_named),
            "the README no longer names {as_named}"
        );
        assert!(
            names.contains(&service.to_owned()),
            "{service} missing from {names:?}"
        );
    }
    for service in ["migrate", "api"] {
        assert_eq!(
            services[service]["build"].as_str(),
            Some("."),
            "{service} is built from the Dockerfile"
        );
    }
    // Every service it depends on is one it has.
    for service in &names {
        for needed in keys(&services[service.as_str()]["depends_on"]) {
            assert!(
                names.contains(&needed),
                "{service} depends on unknown {needed}"
            );
        }
    }
}
