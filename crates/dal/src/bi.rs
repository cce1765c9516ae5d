//! BI logins: one PostgreSQL login role per organization that reads the `bi` views of
//! that organization only (see the migration `2026-11-30-000003_bi`). Made, rotated
//! and dropped from the console (`crust bi`); every change is an audit event in the
//! organization's chain.

use chrono::{DateTime, Utc};
use crust_domain::OrgId;
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::error::{DalError, DalResult};

/// A BI login as `crust bi list` shows it (never its password).
#[derive(Debug, QueryableByName)]
pub struct BiLogin {
    #[diesel(sql_type = Text)]
    pub role_name: String,
    #[diesel(sql_type = SqlUuid)]
    pub org_id: Uuid,
    #[diesel(sql_type = Text)]
    pub org_name: String,
    #[diesel(sql_type = Array<Text>)]
    pub allow: Vec<String>,
    #[diesel(sql_type = Integer)]
    pub connection_limit: i32,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    pub rotated_at: Option<DateTime<Utc>>,
}

/// What `grant` made: the role and its password (shown once, stored nowhere).
pub struct Granted {
    pub role_name: String,
    pub password: String,
}

/// 32 bytes from the OS as URL-safe base64 (about 256 bits): letters, digits, `-`, `_`.
fn strong_password() -> DalResult<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|_| DalError::Internal("the OS random generator failed".into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677, 4096
/// iterations, a random salt): sent instead of the password, so the password itself is
/// never in an SQL statement (statement logs, pg_stat_activity).
fn scram_verifier(password: &str) -> DalResult<String> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    const ITERATIONS: u32 = 4096;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|_| DalError::Internal("the OS random generator failed".into()))?;
    let mac = |key: &[u8], data: &[&[u8]]| -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for d in data {
            m.update(d);
        }
        m.finalize().into_bytes().into()
    };
    // PBKDF2-HMAC-SHA256 with one block (32 bytes).
    let mut u = mac(password.as_bytes(), &[&salt, &1u32.to_be_bytes()]);
    let mut salted = u;
    for _ in 1..ITERATIONS {
        u = mac(password.as_bytes(), &[&u]);
        for (s, b) in salted.iter_mut().zip(u) {
            *s ^= b;
        }
    }
    let client_key = mac(&salted, &[b"Client Key"]);
    let stored_key = Sha256::digest(client_key);
    let server_key = mac(&salted, &[b"Server Key"]);
    Ok(format!(
        "SCRAM-SHA-256${ITERATIONS}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored_key),
        STANDARD.encode(server_key)
    ))
}

fn role_name() -> DalResult<String> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes)
        .map_err(|_| DalError::Internal("the OS random generator failed".into()))?;
    Ok(format!(
        "crust_bi_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// A CIDR as PostgreSQL reads it (`10.0.0.0/8`, `2001:db8::/32`), normalized.
pub fn parse_cidr(text: &str) -> Result<String, String> {
    let (addr, bits) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not a CIDR like 10.0.0.0/8"))?;
    let addr: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("`{text}` is not a CIDR like 10.0.0.0/8"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits: u8 = bits
        .parse()
        .ok()
        .filter(|b| *b <= max)
        .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {max}"))?;
    Ok(format!("{addr}/{bits}"))
}

fn audit(conn: &mut PgConnection, action: &str, org: OrgId, role: &str) -> DalResult<()> {
    let mut e = crate::audit::NewEvent::new(
        action,
        crust_domain::audit::Outcome::Ok,
        crate::audit::Origin::default(),
    );
    e.reason = Some("console".into());
    e.organization = Some(org.0);
    e.target = Some(crate::audit::Target::new(
        crate::audit::TargetKind::Organization,
        org.0,
    ));
    e.variables = Some(serde_like(role));
    crate::audit::append(conn, &e)?;
    Ok(())
}

fn serde_like(role: &str) -> String {
    // The role name is ours (crust_bi_ and hex): no escaping needed.
    format!("{{\"role\":\"{role}\"}}")
}

/// Makes the organization's BI login: a role that can log in, is a member of
/// `crust_bi` only (USAGE on `bi`, SELECT on its views), not superuser, no
/// CREATEDB/CREATEROLE/REPLICATION/BYPASSRLS, owning nothing, with a connection limit
/// and a generated password. Temporary tables are taken from PUBLIC on this database
/// (BI logins must not create anything). One login per organization.
pub fn grant(
    _: &crate::Operator,
    conn: &mut PgConnection,
    org: OrgId,
    allow: &[String],
    connection_limit: i32,
) -> DalResult<Granted> {
    if !(1..=100).contains(&connection_limit) {
        return Err(DalError::Invalid(
            "--connection-limit must be between 1 and 100".into(),
        ));
    }
    let allow = allow
        .iter()
        .map(|a| parse_cidr(a).map_err(DalError::Invalid))
        .collect::<DalResult<Vec<_>>>()?;
    conn.transaction(|conn| {
        crate::schema::organizations::table
            .find(org.0)
            .select(crate::schema::organizations::id)
            .first::<Uuid>(conn)?;
        if !list_for(conn, Some(org))?.is_empty() {
            return Err(DalError::Conflict(
                "this organization has a BI login already: `crust bi rotate` gives it a new password, `crust bi revoke` drops it".into(),
            ));
        }
        let (name, password) = (role_name()?, strong_password()?);
        let verifier = scram_verifier(&password)?;
        // Neither can carry a quote: the name is [a-z0-9_], the verifier base64 and `$:`.
        diesel::sql_query(format!(
            "CREATE ROLE {name} LOGIN PASSWORD '{verifier}' CONNECTION LIMIT {connection_limit} \
             NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT IN ROLE crust_bi"
        ))
        .execute(conn)?;
        diesel::sql_query(
            "DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); END $$",
        )
        .execute(conn)?;
        diesel::sql_query(
            "INSERT INTO bi_logins (role_name, org_id, allow, connection_limit) VALUES ($1, $2, $3, $4)",
        )
        .bind::<Text, _>(&name)
        .bind::<SqlUuid, _>(org.0)
        .bind::<Array<Text>, _>(&allow)
        .bind::<Integer, _>(connection_limit)
        .execute(conn)?;
        audit(conn, "biGrant", org, &name)?;
        Ok(Granted {
            role_name: name,
            password,
        })
    })
}

/// A new password for the organization's BI login; the old one stops working at once,
/// and its open connections are ended where this login may end them.
pub fn rotate(_: &crate::Operator, conn: &mut PgConnection, org: OrgId) -> DalResult<Granted> {
    conn.transaction(|conn| {
        let login = list_for(conn, Some(org))?
            .into_iter()
            .next()
            .ok_or(DalError::NotFound)?;
        let password = strong_password()?;
        diesel::sql_query(format!(
            "ALTER ROLE {} PASSWORD '{}'",
            login.role_name,
            scram_verifier(&password)?
        ))
        .execute(conn)?;
        diesel::sql_query("UPDATE bi_logins SET rotated_at = now() WHERE role_name = $1")
            .bind::<Text, _>(&login.role_name)
            .execute(conn)?;
        audit(conn, "biRotate", org, &login.role_name)?;
        Ok(Granted {
            role_name: login.role_name,
            password,
        })
    })
    .inspect(|g| end_sessions(conn, &g.role_name))
}

/// Drops the organization's BI login.
pub fn revoke(_: &crate::Operator, conn: &mut PgConnection, org: OrgId) -> DalResult<String> {
    let login = list_for(conn, Some(org))?
        .into_iter()
        .next()
        .ok_or(DalError::NotFound)?;
    end_sessions(conn, &login.role_name);
    conn.transaction(|conn| {
        diesel::sql_query("DELETE FROM bi_logins WHERE role_name = $1")
            .bind::<Text, _>(&login.role_name)
            .execute(conn)?;
        // Whatever it came to own (large objects, if it ever reached the primary) goes
        // with it, or DROP ROLE would fail and leave it able to log in.
        diesel::sql_query(format!("DROP OWNED BY {}", login.role_name)).execute(conn)?;
        diesel::sql_query(format!("DROP ROLE {}", login.role_name)).execute(conn)?;
        audit(conn, "biRevoke", org, &login.role_name)?;
        Ok(login.role_name)
    })
}

/// Ends the role's open connections (best effort: it takes a superuser or
/// pg_signal_backend; without, they end when their clients disconnect).
fn end_sessions(conn: &mut PgConnection, role: &str) {
    let _ = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
    )
    .bind::<Text, _>(role)
    .execute(conn);
}

fn list_for(conn: &mut PgConnection, org: Option<OrgId>) -> DalResult<Vec<BiLogin>> {
    Ok(diesel::sql_query(
        "SELECT l.role_name, l.org_id, o.name AS org_name, l.allow, l.connection_limit, l.created_at, l.rotated_at
           FROM bi_logins l JOIN organizations o ON o.id = l.org_id
          WHERE $1::uuid IS NULL OR l.org_id = $1
          ORDER BY o.name, l.role_name",
    )
    .bind::<diesel::sql_types::Nullable<SqlUuid>, _>(org.map(|o| o.0))
    .load(conn)?)
}

/// Every BI login (the listing itself is recorded, in the global chain).
pub fn list(_: &crate::Operator, conn: &mut PgConnection) -> DalResult<Vec<BiLogin>> {
    conn.transaction(|conn| {
        let logins = list_for(conn, None)?;
        let mut e = crate::audit::NewEvent::new(
            "biList",
            crust_domain::audit::Outcome::Ok,
            crate::audit::Origin::default(),
        );
        e.reason = Some("console".into());
        e.variables = Some(format!("{{\"logins\":{}}}", logins.len()));
        crate::audit::append(conn, &e)?;
        Ok(logins)
    })
}

/// One column of a `bi` view, with its documentation.
#[derive(Debug, QueryableByName)]
pub struct DictionaryEntry {
    #[diesel(sql_type = Text)]
    pub view: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub view_comment: Option<String>,
    #[diesel(sql_type = Text)]
    pub column: String,
    #[diesel(sql_type = Text)]
    pub data_type: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub column_comment: Option<String>,
}

/// The data dictionary of the `bi` views, from the catalog's comments, in order.
pub fn dictionary(_: &crate::Operator, conn: &mut PgConnection) -> DalResult<Vec<DictionaryEntry>> {
    Ok(diesel::sql_query(
        "SELECT c.relname AS view, obj_description(c.oid, 'pg_class') AS view_comment,
                a.attname AS column, format_type(a.atttypid, a.atttypmod) AS data_type,
                col_description(c.oid, a.attnum) AS column_comment
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'bi'
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          WHERE c.relkind = 'v'
          ORDER BY c.relname, a.attnum",
    )
    .load(conn)?)
}

/// The views of the `bi` schema, for what takes a view's name.
pub const VIEWS: [&str; 10] = [
    "projects",
    "slices",
    "boxes",
    "tasks",
    "task_assignees",
    "task_dependencies",
    "project_progress",
    "members",
    "sprints",
    "task_status_history",
];

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// `EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM bi.<view>` on `conn` (the benchmark
/// runs it connected as a BI login): the plan's lines.
pub fn explain(_: &crate::Operator, conn: &mut PgConnection, view: &str) -> DalResult<Vec<String>> {
    if !VIEWS.contains(&view) {
        return Err(DalError::Invalid(format!(
            "`{view}` is not a view of the bi schema"
        )));
    }
    Ok(diesel::sql_query(format!(
        "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM bi.{view}"
    ))
    .load::<PlanLine>(conn)?
    .into_iter()
    .map(|l| l.line)
    .collect())
}

/// An organization with `projects` projects and `tasks` tasks in all (statuses,
/// progress and durations spread), written straight into the tables, then ANALYZE:
/// the benchmark's data for the BI views.
pub fn bulk_organization(
    _: &crate::Operator,
    conn: &mut PgConnection,
    name: &str,
    projects: i32,
    tasks: i32,
) -> DalResult<OrgId> {
    let org = Uuid::new_v4();
    diesel::sql_query(
        "WITH o AS (INSERT INTO organizations (id, name) VALUES ($1, $2) RETURNING id),
              p AS (INSERT INTO projects (org_id, name)
                    SELECT o.id, 'Project ' || n FROM o, generate_series(1, $3) n RETURNING id, org_id)
         INSERT INTO tasks (org_id, project_id, title, position, status, progress, duration_days)
         SELECT p.org_id, p.id, 'Task ' || n, n,
                (ARRAY['NOT_STARTED', 'IN_PROGRESS', 'DONE', 'NOT_NEEDED'])[1 + n % 4],
                CASE n % 4 WHEN 0 THEN 0 WHEN 2 THEN 100 ELSE n % 100 END,
                CASE WHEN n % 3 = 0 THEN NULL ELSE 1 + n % 5 END
           FROM p, generate_series(1, $4 / $3) n",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Text, _>(name)
    .bind::<Integer, _>(projects.max(1))
    .bind::<Integer, _>(tasks)
    .execute(conn)?;
    diesel::sql_query("ANALYZE organizations, projects, tasks").execute(conn)?;
    Ok(OrgId(org))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scram_verifier_has_postgresql_s_shape() {
        let v = scram_verifier("secret").unwrap();
        let (head, keys) = v.split_once('$').unwrap();
        assert_eq!(head, "SCRAM-SHA-256");
        let (iter_salt, stored_server) = keys.split_once('$').unwrap();
        assert!(iter_salt.starts_with("4096:"));
        assert_eq!(stored_server.split(':').count(), 2);
        assert_ne!(
            v,
            scram_verifier("secret").unwrap(),
            "a fresh salt each time"
        );
    }
}
