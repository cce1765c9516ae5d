//! The loader's and the checks' unit tests.
//!
//! A test module: one case per rule of the configuration, kept together.

use super::*;

fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Source::from_vars(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )?
    .load()
}

const STRONG: &str = "a-production-secret-of-more-than-32-bytes";
/// A master key for attachments: base64 of 32 bytes (test value).
const STRONG_FILE_KEY: &str = "dGVzdC1vbmx5LWZpbGUta2V5LW9mLTMyLWJ5dGVzISE=";

#[test]
fn defaults() {
    let c = load(&[]).unwrap();
    assert_eq!(c.profile, Profile::Dev);
    assert_eq!(c.http.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.auth.bcrypt_cost, 12);
    assert_eq!(c.auth.access_token_ttl_secs, 900);
    assert_eq!(c.auth.refresh_idle_ttl_secs, 1800);
    assert_eq!(c.auth.refresh_absolute_ttl_secs, 12 * 3600);
    assert_eq!(
        c.database.url.expose(),
        if pgsslmode_set() {
            "postgres://postgres@127.0.0.1:5432/crust_dev"
        } else {
            "postgres://postgres@127.0.0.1:5432/crust_dev?sslmode=disable"
        }
    );
    assert!(c.diagnostics.graphiql);
}

#[test]
fn each_profile_has_its_own_database() {
    let names: Vec<String> = ["dev", "test", "demo"]
        .iter()
        .map(|p| {
            load(&[("CRUST_PROFILE", p)])
                .unwrap()
                .database
                .url
                .expose()
                .to_owned()
        })
        .collect();
    assert_eq!(names.len(), 3);
    assert!(names[0] != names[1] && names[1] != names[2] && names[0] != names[2]);
}

#[test]
fn only_the_test_profile_may_lower_the_bcrypt_cost() {
    assert!(load(&[("CRUST_PROFILE", "test"), ("CRUST_BCRYPT_COST", "4")]).is_ok());
    for profile in ["dev", "demo"] {
        let err = load(&[("CRUST_PROFILE", profile), ("CRUST_BCRYPT_COST", "10")]).unwrap_err();
        assert!(err.to_string().contains("CRUST_BCRYPT_COST"), "{err}");
    }
}

#[test]
fn prod_refuses_default_or_short_secrets_and_debug_features() {
    let err = load(&[("CRUST_PROFILE", "prod")]).unwrap_err().to_string();
    assert!(err.contains("CRUST_JWT_SECRET"), "{err}");
    assert!(err.contains("CRUST_PASSWORD_PEPPER"), "{err}");
    let err = load(&[
        ("CRUST_PROFILE", "prod"),
        ("CRUST_JWT_SECRET", "short"),
        ("CRUST_PASSWORD_PEPPER", STRONG),
        ("CRUST_FILE_KEY", STRONG_FILE_KEY),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("CRUST_JWT_SECRET"), "{err}");
    let err = load(&[
        ("CRUST_PROFILE", "prod"),
        ("CRUST_JWT_SECRET", STRONG),
        ("CRUST_PASSWORD_PEPPER", STRONG),
        ("CRUST_FILE_KEY", STRONG_FILE_KEY),
        ("CRUST_GRAPHIQL", "true"),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("CRUST_GRAPHIQL"), "{err}");
    let ok = load(&[
        ("CRUST_PROFILE", "prod"),
        ("CRUST_JWT_SECRET", STRONG),
        ("CRUST_PASSWORD_PEPPER", STRONG),
        ("CRUST_FILE_KEY", STRONG_FILE_KEY),
        ("CRUST_BEHIND_TLS_PROXY", "true"),
        ("CRUST_SMTP_URL", "smtp://smtp.example.com:587?tls=required"),
        ("CRUST_PUBLIC_URL", "https://app.example.com"),
    ])
    .unwrap();
    let err = load(&[
        ("CRUST_PROFILE", "prod"),
        ("CRUST_JWT_SECRET", STRONG),
        ("CRUST_PASSWORD_PEPPER", STRONG),
        ("CRUST_FILE_KEY", STRONG_FILE_KEY),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("no TLS"), "{err}");
    let err = load(&[
        ("CRUST_PROFILE", "prod"),
        ("CRUST_JWT_SECRET", STRONG),
        ("CRUST_PASSWORD_PEPPER", STRONG),
        ("CRUST_FILE_KEY", STRONG_FILE_KEY),
        ("CRUST_BEHIND_TLS_PROXY", "true"),
        ("CRUST_CORS_ORIGINS", "*"),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("any origin"), "{err}");
    for bad in ["null", "https://app.example.com/path", "app.example.com"] {
        assert!(load(&[("CRUST_CORS_ORIGINS", bad)]).is_err(), "{bad}");
    }
    assert!(!ok.auth.signup_enabled, "sign-up is off by default in prod");
    assert_eq!(ok.diagnostics.log_format, LogFormat::Json);
}

#[test]
fn the_server_runs_as_the_audit_safe_role_and_prod_keeps_the_log_on() {
    let dev = load(&[]).unwrap();
    assert_eq!(dev.database.role.as_deref(), Some("crust_app"));
    assert!(dev.audit.enabled);
    assert_eq!(dev.audit.retention_days, 90);
    assert_eq!(
        load(&[("CRUST_DATABASE_ROLE", "none")])
            .unwrap()
            .database
            .role,
        None
    );
    for bad in ["Crust", "crust app", "x\"; DROP TABLE users; --", "1abc"] {
        let err = load(&[("CRUST_DATABASE_ROLE", bad)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("CRUST_DATABASE_ROLE"), "{bad}: {err}");
    }
    assert!(load(&[("CRUST_AUDIT_RETENTION_DAYS", "0")]).is_err());
    let prod = [
        ("CRUST_PROFILE", "prod"),
        ("CRUST_JWT_SECRET", STRONG),
        ("CRUST_PASSWORD_PEPPER", STRONG),
        ("CRUST_FILE_KEY", STRONG_FILE_KEY),
        ("CRUST_BEHIND_TLS_PROXY", "true"),
        ("CRUST_SMTP_URL", "smtps://smtp.example.com"),
        ("CRUST_PUBLIC_URL", "https://app.example.com"),
    ];
    for (key, value, says) in [
        ("CRUST_AUDIT_ENABLED", "false", "CRUST_AUDIT_ENABLED is off"),
        ("CRUST_DATABASE_ROLE", "none", "CRUST_DATABASE_ROLE is none"),
    ] {
        let mut vars = prod.to_vec();
        vars.push((key, value));
        let err = load(&vars).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
    assert!(load(&prod).is_ok());
}

#[test]
fn bad_values_name_the_setting() {
    for (key, value) in [
        ("CRUST_BIND", "nowhere"),
        ("CRUST_PROFILE", "staging"),
        ("CRUST_BCRYPT_COST", "twelve"),
        ("CRUST_LOG_FORMAT", "xml"),
    ] {
        let err = load(&[(key, value)]).unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
}

#[test]
fn a_config_file_is_read_and_the_environment_wins() {
    let path = std::env::temp_dir().join(format!("crust-config-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "bind = \"127.0.0.1:9999\"\njwt_issuer = \"from-file\"\n",
    )
    .unwrap();
    let file = path.to_string_lossy().into_owned();
    let c = load(&[("CRUST_CONFIG", &file), ("CRUST_JWT_ISSUER", "from-env")]).unwrap();
    assert_eq!(c.http.bind.to_string(), "127.0.0.1:9999");
    assert_eq!(c.auth.jwt_issuer, "from-env");
    std::fs::write(&path, "bnid = \"typo\"\n").unwrap();
    assert!(
        load(&[("CRUST_CONFIG", &file)]).is_err(),
        "unknown keys are refused"
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn secrets_never_print() {
    let c = load(&[]).unwrap();
    let printed = format!("{c:?}");
    assert!(!printed.contains(DEV_JWT_SECRET));
    assert!(!printed.contains(DEV_PASSWORD_PEPPER));
    assert!(!printed.contains("postgres://"));
}

/// Validation does not stop at the first problem: every bad setting is named, values
/// that do not parse together, and out-of-range values together with prod's refusals.
#[test]
fn every_problem_is_reported_together() {
    let err = load(&[("CRUST_BIND", "nowhere"), ("CRUST_DB_POOL_SIZE", "many")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 settings are invalid"), "{err}");
    assert!(
        err.contains("CRUST_BIND: `nowhere` is not an address"),
        "{err}"
    );
    assert!(
        err.contains("CRUST_DB_POOL_SIZE: `many` is not valid"),
        "{err}"
    );

    let err = load(&[
        ("CRUST_GRAPHQL_MAX_DEPTH", "1"),
        ("CRUST_BCRYPT_COST", "40"),
        ("CRUST_CORS_ORIGINS", "null"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("CRUST_GRAPHQL_MAX_DEPTH: must be between 2 and 64"),
        "{err}"
    );
    assert!(
        err.contains("CRUST_BCRYPT_COST: must be between 4 and 31"),
        "{err}"
    );
    assert!(err.contains("CRUST_CORS_ORIGINS"), "{err}");

    let err = load(&[
        ("CRUST_PROFILE", "prod"),
        ("CRUST_RATE_LIMIT_SIGN_IN_PER_HOUR", "0"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("CRUST_RATE_LIMIT_SIGN_IN_PER_HOUR: must be at least 1"),
        "{err}"
    );
    assert!(err.contains("prod profile refuses"), "{err}");
    assert!(
        err.contains("CRUST_JWT_SECRET") && err.contains("no TLS"),
        "{err}"
    );
}

/// One problem alone reads as it always did: `KEY: problem`.
#[test]
fn a_single_problem_reads_key_colon_problem() {
    let err = load(&[("CRUST_GRAPHQL_MAX_BATCH", "11")])
        .unwrap_err()
        .to_string();
    assert_eq!(err, "CRUST_GRAPHQL_MAX_BATCH: must be between 1 and 10");
}

/// The declarations keep the defaults the hand-written loader had.
#[test]
fn the_defaults_are_unchanged() {
    let c = load(&[]).unwrap();
    assert_eq!(c.database.migration_url, None);
    assert_eq!(c.database.owner_url().expose(), c.database.url.expose());
    assert_eq!(
        (
            c.database.pool_size,
            c.database.checkout_timeout_ms,
            c.database.statement_timeout_ms
        ),
        (10, 3000, 10_000)
    );
    assert_eq!(c.auth.jwt_kid, "k1");
    assert_eq!(c.auth.jwt_secret.expose(), DEV_JWT_SECRET);
    assert!(c.auth.jwt_previous.is_empty());
    assert_eq!(
        (c.auth.jwt_issuer.as_str(), c.auth.jwt_audience.as_str()),
        ("crust", "crust-api")
    );
    assert_eq!(c.auth.password_pepper.expose(), DEV_PASSWORD_PEPPER);
    assert!(c.auth.signup_enabled);
    assert_eq!(
        (
            c.login.max_failures,
            c.login.failure_window_secs,
            c.login.lockout_secs,
            c.login.max_delay_ms
        ),
        (5, 900, 900, 4000)
    );
    assert_eq!(
        c.rate_limits,
        RateLimits {
            user_per_hour: 5000,
            anonymous_per_hour: 1000,
            sign_in_per_hour: 60
        }
    );
    assert_eq!(
        (
            c.http.request_timeout_ms,
            c.http.shutdown_grace_secs,
            c.http.client_timeout_ms
        ),
        (30_000, 10, 5000)
    );
    assert_eq!(
        (&c.http.tls_cert, &c.http.tls_key, c.http.http_redirect_bind),
        (&None, &None, None)
    );
    assert!(
        !c.http.behind_tls_proxy
            && c.http.cors_origins.is_empty()
            && c.http.trusted_proxies.is_empty()
    );
    assert_eq!(
        c.graphql,
        GraphqlLimits {
            max_depth: 15,
            max_complexity: 2_000_000,
            max_aliases: 15,
            max_directives: 3,
            max_query_chars: 15_000,
            max_selections: 5000,
            max_batch: 1,
            concurrency: 0,
            introspection: true,
            ws_max_connections_per_user: 8,
            ws_max_subscriptions: 20,
            ws_max_message_bytes: 65536,
            ws_messages_per_second: 20,
            ws_recheck_ms: 2000,
            trusted_documents: None,
            trusted_documents_only: false,
        }
    );
    assert_eq!(c.diagnostics.log_format, LogFormat::Text);
    assert!(!c.diagnostics.report_sql_statements && !c.diagnostics.test_hooks);
    for (profile, graphiql) in [("test", false), ("demo", false)] {
        let c = load(&[("CRUST_PROFILE", profile)]).unwrap();
        assert_eq!(c.diagnostics.graphiql, graphiql, "{profile}");
        assert!(
            c.auth.signup_enabled && c.graphql.introspection,
            "{profile}"
        );
    }
}

/// Lists are split on commas; a trailing `/` on an origin is dropped.
#[test]
fn lists_and_previous_keys_parse_as_before() {
    let c = load(&[
        (
            "CRUST_CORS_ORIGINS",
            " https://a.example.com/ , ,http://b.example.com:8080",
        ),
        ("CRUST_TRUSTED_PROXIES", "10.0.0.1, ::1"),
        ("CRUST_JWT_PREVIOUS_KEYS", "k0 = old-secret"),
        ("CRUST_HTTP_REDIRECT_BIND", "0.0.0.0:80"),
        ("CRUST_TLS_CERT", "cert.pem"),
        ("CRUST_TLS_KEY", "key.pem"),
    ])
    .unwrap();
    assert_eq!(
        c.http.cors_origins,
        ["https://a.example.com", "http://b.example.com:8080"]
    );
    assert_eq!(c.http.trusted_proxies.len(), 2);
    assert_eq!(c.auth.jwt_previous["k0"].expose(), "old-secret");
    let err = load(&[("CRUST_JWT_PREVIOUS_KEYS", "k0:do-not-print-me")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("CRUST_JWT_PREVIOUS_KEYS") && !err.contains("do-not-print-me"),
        "{err}"
    );
    assert!(
        load(&[("CRUST_HTTP_REDIRECT_BIND", "0.0.0.0:80")]).is_err(),
        "needs TLS"
    );
}

/// A file value must have the declared type; every declared setting has a file key.
#[test]
fn the_file_holds_every_setting_with_its_type() {
    let path = std::env::temp_dir().join(format!("crust-config-types-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "bcrypt_cost = \"12\"\ngraphql_max_depth = 20\ndatabase_role = \"none\"\nsignup_enabled = false\n",
    )
    .unwrap();
    let file = path.to_string_lossy().into_owned();
    let err = load(&[("CRUST_CONFIG", &file)]).unwrap_err().to_string();
    assert!(
        err.contains("CRUST_BCRYPT_COST: in the config file, must be an integer"),
        "{err}"
    );
    std::fs::write(
        &path,
        "graphql_max_depth = 20\ndatabase_role = \"none\"\nsignup_enabled = false\n",
    )
    .unwrap();
    let c = load(&[("CRUST_CONFIG", &file)]).unwrap();
    assert_eq!(
        (
            c.graphql.max_depth,
            c.database.role.clone(),
            c.auth.signup_enabled
        ),
        (20, None, false)
    );
    let _ = std::fs::remove_file(path);
    for s in Config::settings() {
        let key = setting::file_key(s.env);
        assert!(
            !key.starts_with("crust_") && key == key.to_lowercase(),
            "{key}"
        );
    }
}

#[test]
fn smtp_urls_name_their_tls_and_prod_refuses_mail_without_tls_or_https_links() {
    use crate::config::SmtpSecurity;
    let smtp = |url: &str| load(&[("CRUST_SMTP_URL", url)]).map(|c| c.mail.smtp);
    let s = smtp("smtps://mailer:p%40ss@smtp.example.com")
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.security, s.port, s.host.as_str()),
        (SmtpSecurity::ImplicitTls, 465, "smtp.example.com")
    );
    assert_eq!(s.user.as_deref(), Some("mailer"));
    assert_eq!(s.password.as_ref().map(|p| p.expose()), Some("p@ss"));
    assert!(
        !format!("{s:?}").contains("p@ss"),
        "the password never prints"
    );
    let s = smtp("smtp://smtp.example.com?tls=required")
        .unwrap()
        .unwrap();
    assert_eq!((s.security, s.port), (SmtpSecurity::StartTls, 587));
    let s = smtp("smtp://127.0.0.1:2525").unwrap().unwrap();
    assert_eq!((s.security, s.port), (SmtpSecurity::Plain, 2525));
    for bad in [
        "http://x",
        "smtp://x?tls=maybe",
        "smtps://x?tls=none",
        "smtp://x/path",
        "smtp://user:pw@",
    ] {
        let err = smtp(bad).unwrap_err().to_string();
        assert!(err.contains("CRUST_SMTP_URL"), "{bad}: {err}");
        assert!(!err.contains("pw@"), "the URL is not echoed: {err}");
    }
    for bad in [
        "app.example.com",
        "https://app.example.com/",
        "https://a.example?x=1",
    ] {
        assert!(load(&[("CRUST_PUBLIC_URL", bad)]).is_err(), "{bad}");
    }
    assert!(load(&[("CRUST_MAIL_FROM", "not an address")]).is_err());

    let base = [
        ("CRUST_PROFILE", "prod"),
        ("CRUST_JWT_SECRET", STRONG),
        ("CRUST_PASSWORD_PEPPER", STRONG),
        ("CRUST_FILE_KEY", STRONG_FILE_KEY),
        ("CRUST_BEHIND_TLS_PROXY", "true"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        load(&v).map(|_| ()).map_err(|e| e.to_string())
    };
    let err = with(&[("CRUST_PUBLIC_URL", "https://app.example.com")]).unwrap_err();
    assert!(err.contains("CRUST_SMTP_URL is not set"), "{err}");
    let err = with(&[
        ("CRUST_PUBLIC_URL", "https://app.example.com"),
        ("CRUST_SMTP_URL", "smtp://relay"),
    ])
    .unwrap_err();
    assert!(err.contains("without TLS"), "{err}");
    let err = with(&[
        ("CRUST_PUBLIC_URL", "http://app.example.com"),
        ("CRUST_SMTP_URL", "smtps://relay"),
    ])
    .unwrap_err();
    assert!(err.contains("CRUST_PUBLIC_URL is not https"), "{err}");
    assert!(with(&[
        ("CRUST_PUBLIC_URL", "https://app.example.com"),
        ("CRUST_SMTP_URL", "smtps://relay")
    ])
    .is_ok());
}

#[test]
fn attachments_need_a_master_key_of_their_own_in_prod_and_keys_must_be_32_bytes() {
    let base = [
        ("CRUST_PROFILE", "prod"),
        ("CRUST_JWT_SECRET", STRONG),
        ("CRUST_PASSWORD_PEPPER", STRONG),
        ("CRUST_BEHIND_TLS_PROXY", "true"),
        ("CRUST_SMTP_URL", "smtp://smtp.example.com:587?tls=required"),
        ("CRUST_PUBLIC_URL", "https://app.example.com"),
    ];
    let err = load(&base).unwrap_err().to_string();
    assert!(
        err.contains("CRUST_FILE_KEY is the development default"),
        "{err}"
    );
    let mut with_key = base.to_vec();
    with_key.push(("CRUST_FILE_KEY", STRONG_FILE_KEY));
    assert!(load(&with_key).is_ok());
    with_key.push(("CRUST_FILES_STORE", "s3://bucket"));
    with_key.push(("CRUST_FILES_S3_ENDPOINT", "http://minio:9000"));
    let err = load(&with_key).unwrap_err().to_string();
    assert!(
        err.contains("CRUST_FILES_S3_ENDPOINT is not https"),
        "{err}"
    );
    // Any profile: a key must be 32 bytes of base64, and never printed.
    let err = load(&[("CRUST_FILE_KEY", "c2hvcnQ=")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("CRUST_FILE_KEY"), "{err}");
    assert!(!err.contains("c2hvcnQ="), "{err}");
    let err = load(&[("CRUST_FILE_PREVIOUS_KEYS", "old=c2hvcnQ=")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("CRUST_FILE_PREVIOUS_KEYS"), "{err}");
    assert!(load(&[(
        "CRUST_FILE_PREVIOUS_KEYS",
        &format!("old={STRONG_FILE_KEY}")
    )])
    .is_ok());
    let err = load(&[(
        "CRUST_FILE_PREVIOUS_KEYS",
        &format!("dev={STRONG_FILE_KEY}"),
    )])
    .unwrap_err()
    .to_string();
    assert!(err.contains("CRUST_FILE_KEY_ID"), "{err}");
}

/// The deploy check reads the `sslmode` libpq would use: the last one in the URL.
#[test]
fn the_deploy_check_names_what_the_database_urls_tls_lacks() {
    let tls_findings = |url: &str| -> Vec<String> {
        load(&[("DATABASE_URL", url)])
            .unwrap()
            .deploy_findings()
            .into_iter()
            .map(|f| f.message)
            .filter(|m| m.starts_with("DATABASE_URL"))
            .collect()
    };
    assert!(tls_findings("postgres://u@db/crust?sslmode=verify-full").is_empty());
    assert!(tls_findings("host=db dbname=crust sslmode=verify-full").is_empty());
    assert!(tls_findings("postgres://u@db/crust?connect_timeout=3&sslmode=verify-ca").is_empty());
    for (url, says) in [
        ("postgres://u@db/crust", "does not require TLS"),
        (
            "postgres://u@db/crust?sslmode=disable",
            "does not require TLS",
        ),
        (
            "postgres://u@db/crust?sslmode=verify-full&sslmode=disable",
            "does not require TLS",
        ),
        (
            "postgres://u@db/crust?sslmode=require",
            "does not check the database's certificate",
        ),
        (
            "postgres://u@db/crust?sslmode=disable&sslmode=require",
            "does not check the database's certificate",
        ),
    ] {
        let found = tls_findings(url);
        assert!(
            found.len() == 1 && found[0].contains(says),
            "{url}: {found:?}"
        );
    }
}
