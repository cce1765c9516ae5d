//! The end-to-end test harness: a fresh PostgreSQL database per test (cloned from a
//! migrated template), the real server on a free port, and a real HTTP client.
//!
//! ```text
//! let app = TestApp::start().await;
//! let alice = app.user("alice").await;
//! let org = app.create_org(&alice, "Acme").await;
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod cluster;
pub mod db;
pub mod fixtures;
pub mod mail;
pub mod peers;
pub mod replica;
pub mod scenario;

use std::collections::HashMap;
use std::net::TcpListener;
use std::time::Duration;

use crust_api::config::{Config, Secret, Source};
use crust_api::RunningServer;
use serde_json::{json, Value};

pub use db::TestDb;

/// The password every test user gets (not a common one, so the policy accepts it).
pub const TEST_PASSWORD: &str = "tangerine-orbit-lantern-42";
/// Test-profile secrets: known to the tests so they can forge tokens with them.
pub const TEST_JWT_SECRET: &str = "test-only-jwt-secret-0123456789abcdef0123456789";
pub const TEST_PEPPER: &str = "test-only-pepper-0123456789abcdef";

/// Where this test process's server logs go (one file per process; `.ci/run` searches
/// them all for secrets after the suite).
pub fn log_file() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-logs")
        .join(format!("{}.log", std::process::id()))
}

fn log_to_file() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = crust_api::logging::init_to_file(&log_file());
    });
}

/// The test profile's configuration for a database.
pub fn test_config(database_url: &str) -> Config {
    let vars: HashMap<String, String> = [
        ("CRUST_PROFILE", "test"),
        ("DATABASE_URL", database_url),
        ("CRUST_JWT_SECRET", TEST_JWT_SECRET),
        ("CRUST_PASSWORD_PEPPER", TEST_PEPPER),
        ("CRUST_BCRYPT_COST", "4"),
        ("CRUST_DB_POOL_SIZE", "4"),
        // Tests sign many users in from one address; the abuse tests set their own limits.
        ("CRUST_RATE_LIMIT_USER_PER_HOUR", "10000000"),
        ("CRUST_RATE_LIMIT_ANONYMOUS_PER_HOUR", "10000000"),
        ("CRUST_RATE_LIMIT_SIGN_IN_PER_HOUR", "10000000"),
        ("CRUST_LOGIN_MAX_FAILURES", "1000"),
        // Mail goes to files unless a test starts an SMTP peer; links point here.
        ("CRUST_PUBLIC_URL", "https://app.crust.test"),
        ("CRUST_MAIL_FROM", "Crust <no-reply@crust.test>"),
        ("CRUST_MAIL_POLL_MS", "50"),
        ("CRUST_MAIL_RETRY_BASE_MS", "100"),
        ("CRUST_FILES_PURGE_POLL_MS", "200"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain([
        (
            "CRUST_MAIL_DIR".to_owned(),
            mail_dir(database_url).display().to_string(),
        ),
        (
            "CRUST_FILES_DIR".to_owned(),
            files_dir(database_url).display().to_string(),
        ),
    ])
    .collect();
    Source::from_vars(vars).unwrap().load().unwrap()
}

/// Where a test database's server writes mail without SMTP (one folder per database).
fn mail_dir(database_url: &str) -> std::path::PathBuf {
    let name = database_url.rsplit('/').next().unwrap_or("unknown");
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-mail")
        .join(name)
}

/// Where a test database's server keeps attachment blobs (one folder per database).
pub fn files_dir(database_url: &str) -> std::path::PathBuf {
    let name = database_url.rsplit('/').next().unwrap_or("unknown");
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-files")
        .join(name)
}

pub struct TestApp {
    // Declared first so it drops first: the server stops before its database goes.
    server: Option<RunningServer>,
    pub db: TestDb,
    pub config: Config,
    pub base: String,
    pub http: reqwest::Client,
}

/// A signed-in user as a test sees them.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    /// A server on a fresh, migrated database.
    pub async fn start() -> TestApp {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestApp::start`], with configuration changes.
    pub async fn start_with(change: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::migrated().await;
        Self::on_db(db, change)
    }

    /// A server on a database without any migrations applied.
    pub async fn start_unmigrated() -> TestApp {
        let db = TestDb::empty().await;
        Self::on_db(db, |_| {})
    }

    fn on_db(db: TestDb, change: impl FnOnce(&mut Config)) -> TestApp {
        log_to_file();
        let mut config = test_config(&db.url);
        change(&mut config);
        config.validate().unwrap();
        let mut app = TestApp {
            db,
            config,
            base: String::new(),
            // Idle connections are dropped before the server's keep-alive ends them, so a
            // request never races the server closing the connection it reuses.
            http: reqwest::Client::builder()
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build()
                .unwrap(),
            server: None,
        };
        app.launch();
        app
    }

    fn launch(&mut self) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = crust_api::server::spawn(&self.config, listener, 1).unwrap();
        self.base = format!("http://{}", server.addr);
        self.server = Some(server);
    }

    /// Stops the server and starts it again on the same database with new settings.
    pub fn restart_with(&mut self, change: impl FnOnce(&mut Config)) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
        change(&mut self.config);
        self.config.validate().unwrap();
        self.launch();
    }

    /// Holds a lock on `table` in a connection of its own for `hold`, from a thread;
    /// returns once the lock is taken.
    pub fn lock_table(&self, table: &'static str, hold: Duration) -> std::thread::JoinHandle<()> {
        use diesel::connection::SimpleConnection;
        let mut conn = self.db.connect();
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            conn.batch_execute(&format!(
                "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;"
            ))
            .unwrap();
            tx.send(()).unwrap();
            std::thread::sleep(hold);
            conn.batch_execute("ROLLBACK").unwrap();
        });
        rx.recv().unwrap();
        handle
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a GraphQL request (POST, JSON) and returns the whole response body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "GraphQL over HTTP answers 200");
        res.json().await.unwrap()
    }

    /// As [`TestApp::gql`] for a signed-in user; panics on any error.
    pub async fn ok(&self, who: &Session, query: &str, variables: Value) -> Value {
        let body = self.gql(Some(&who.access), query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// A new user named `name` with a unique email, signed in.
    pub async fn user(&self, name: &str) -> Session {
        let email = format!(
            "{}-{}@example.test",
            name.to_lowercase(),
            uuid::Uuid::new_v4().simple()
        );
        self.create_user(&email, name, TEST_PASSWORD).await
    }

    /// Creates a verified account as an operator would (`crust user create`: sign-up
    /// now goes through the inbox, see `e2e::mail`) and signs it in through the API.
    pub async fn create_user(&self, email: &str, name: &str, password: &str) -> Session {
        let hasher = crust_dal::password::PasswordHasher::new(TEST_PEPPER, 4).unwrap();
        let hash = hasher.hash(password).unwrap();
        // The server's own database (a test may point it elsewhere than `self.db`).
        let mut conn = crust_dal::establish(
            &crust_dal::Operator::at_console(),
            self.config.database.owner_url().expose(),
        )
        .unwrap();
        crust_dal::users::create_verified(
            &crust_dal::Operator::at_console(),
            &mut conn,
            email,
            name,
            &hash,
        )
        .unwrap();
        let body = self.login(email, password).await;
        session_from(&body["data"]["login"]).unwrap_or_else(|| panic!("login failed: {body}"))
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        self.gql(
            None,
            "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken expiresAt user { id email name } } }",
            json!({ "i": { "email": email, "password": password } }),
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Value {
        self.gql(
            None,
            "mutation($i: RefreshSessionInput!) { refreshSession(input: $i) { accessToken refreshToken user { id } } }",
            json!({ "i": { "refreshToken": refresh_token } }),
        )
        .await
    }
}

pub fn session_from(payload: &Value) -> Option<Session> {
    Some(Session {
        id: payload["user"]["id"].as_str()?.to_owned(),
        email: payload["user"]["email"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        access: payload["accessToken"].as_str()?.to_owned(),
        refresh: payload["refreshToken"].as_str()?.to_owned(),
    })
}

/// The `extensions.code` of the first error, if any.
pub fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// Runs the `crust` binary at `bin` (a test's `env!("CARGO_BIN_EXE_crust")`) against
/// `database_url`: whether it succeeded, and everything it printed (stdout, stderr).
pub fn run_crust(bin: &str, database_url: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(bin)
        .args(args)
        .env("DATABASE_URL", database_url)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Makes a secret printable in test configs without exposing real ones.
pub fn secret(s: &str) -> Secret {
    Secret::new(s)
}
