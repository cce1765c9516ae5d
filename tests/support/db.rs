//! One database per test, cloned from a template that holds the migrated schema.
//!
//! The template is named after a hash of `migrations/`, built once under an advisory
//! lock (tests run in parallel processes), and reused until the migrations change.

use std::hash::{Hash, Hasher};
use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

/// The server tests create their databases on (`CRUST_TEST_DATABASE_URL`, default:
/// the local PostgreSQL's `postgres` database).
pub fn admin_url() -> String {
    std::env::var("CRUST_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn url_for(database: &str) -> String {
    let admin = admin_url();
    let (base, _) = admin
        .rsplit_once('/')
        .expect("CRUST_TEST_DATABASE_URL has a database part");
    format!("{base}/{database}")
}

pub struct TestDb {
    pub name: String,
    pub url: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn admin() -> PgConnection {
    PgConnection::establish(&admin_url()).unwrap_or_else(|e| {
        panic!(
            "tests need PostgreSQL at {} ({e}); start it or set CRUST_TEST_DATABASE_URL",
            admin_url()
        )
    })
}

fn migrations_hash() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut entries: Vec<_> = walk(&dir);
    entries.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    // The migrations this binary embeds, too: a binary built before a migration was
    // added must not reuse (or build) the template of the files as they are now.
    use diesel::migration::MigrationSource;
    let embedded =
        MigrationSource::<diesel::pg::Pg>::migrations(&crust_dal::migrate::MIGRATIONS).unwrap();
    for migration in embedded {
        migration.name().to_string().hash(&mut h);
    }
    for path in entries {
        path.to_string_lossy().hash(&mut h);
        std::fs::read(&path).unwrap().hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn database_exists(conn: &mut PgConnection, name: &str) -> bool {
    diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(name)
        .get_result::<Count>(conn)
        .unwrap()
        .n
        > 0
}

fn template() -> String {
    let name = format!("crust_tpl_{}", migrations_hash());
    let mut conn = admin();
    if database_exists(&mut conn, &name) {
        return name;
    }
    diesel::sql_query("SELECT pg_advisory_lock(727274)")
        .execute(&mut conn)
        .unwrap();
    if !database_exists(&mut conn, &name) {
        let building = format!("{name}_building");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(&mut conn)
            .unwrap();
        {
            let mut tpl = PgConnection::establish(&url_for(&building)).unwrap();
            crust_dal::migrate::run_pending(&crust_dal::Operator::at_console(), &mut tpl).unwrap();
        }
        diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
            .execute(&mut conn)
            .unwrap();
    }
    diesel::sql_query("SELECT pg_advisory_unlock(727274)")
        .execute(&mut conn)
        .unwrap();
    name
}

impl TestDb {
    /// A fresh database with every migration applied.
    pub async fn migrated() -> TestDb {
        tokio::task::spawn_blocking(|| Self::create(Some(template())))
            .await
            .unwrap()
    }

    /// A fresh, empty database.
    pub async fn empty() -> TestDb {
        tokio::task::spawn_blocking(|| Self::create(None))
            .await
            .unwrap()
    }

    fn create(template: Option<String>) -> TestDb {
        let name = format!("crust_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin();
        let sql = match &template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        // Two clones of one template at the same instant can collide; retry briefly.
        let mut attempt = 0;
        loop {
            match diesel::sql_query(&sql).execute(&mut conn) {
                Ok(_) => break,
                Err(e) if attempt < 20 => {
                    attempt += 1;
                    let _ = e;
                    std::thread::sleep(std::time::Duration::from_millis(100 * attempt));
                }
                Err(e) => panic!("cannot create test database: {e}"),
            }
        }
        let url = url_for(&name);
        TestDb { name, url }
    }

    /// A direct connection, as the superuser, for assertions on raw rows.
    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let mut conn = admin();
        let _ = diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn);
    }
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    v: String,
}

/// The first column (named `v`, as text) of every row `sql` returns, with `$1` bound
/// to `arg`. Tests read raw rows through SQL: the DAL's schema is its own.
pub fn texts(conn: &mut PgConnection, sql: &str, arg: &str) -> Vec<String> {
    diesel::sql_query(sql)
        .bind::<Text, _>(arg)
        .load::<TextRow>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| r.v)
        .collect()
}

/// The first column (named `v`, as text) of every row `sql` returns, or the database's
/// error as text (for statements a test expects to be refused).
pub fn try_texts(conn: &mut PgConnection, sql: &str) -> Result<Vec<String>, String> {
    diesel::sql_query(sql)
        .load::<TextRow>(conn)
        .map(|rows| rows.into_iter().map(|r| r.v).collect())
        .map_err(|e| e.to_string())
}
