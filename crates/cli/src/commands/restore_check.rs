//! After a restore: is the restored database's protection what the migrations make?
//!
//! A backup is data from storage an attacker may reach, and a custom-format dump can
//! carry any DDL: a trigger dropped, a grant added, a policy loosened, a function
//! replaced. Row counts and the audit chain would not show it. So the security-relevant
//! catalog — triggers, grants to the application's roles, row-level security and its
//! policies, functions, the `bi` views and who owns them — is compared with that of a
//! scratch database migrated by this binary on the same server, and any difference is
//! named and fails the restore.

use std::collections::BTreeSet;

use anyhow::{anyhow, Context};
use crust_dal::{Operator, PgConnection};
use diesel::prelude::*;

/// The roles whose rights the product's promises rest on (per-organization BI logins
/// are made by `crust bi grant`, not by migrations, and members of these).
const ROLES: &str = "('crust_app', 'crust_bi', 'crust_bi_reader', 'PUBLIC', 'public')";

fn fingerprint_sql() -> Vec<String> {
    let schemas = "('public', 'bi')";
    vec![
        format!(
            "SELECT 'trigger ' || c.relname || '.' || t.tgname || ' enabled=' || t.tgenabled::text \
                    || ' ' || md5(pg_get_triggerdef(t.oid)) AS v \
               FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE NOT t.tgisinternal AND n.nspname IN {schemas}"
        ),
        format!(
            "SELECT 'grant ' || table_schema || '.' || table_name || ' to ' || grantee || ' ' \
                    || privilege_type AS v \
               FROM information_schema.role_table_grants \
              WHERE table_schema IN {schemas} AND grantee IN {ROLES}"
        ),
        format!(
            "SELECT 'grant ' || table_schema || '.' || table_name || '(' || column_name || ') to ' \
                    || grantee || ' ' || privilege_type AS v \
               FROM information_schema.column_privileges \
              WHERE table_schema IN {schemas} AND grantee IN {ROLES} \
                AND (table_schema, table_name, grantee, privilege_type) NOT IN \
                    (SELECT table_schema, table_name, grantee, privilege_type \
                       FROM information_schema.role_table_grants)"
        ),
        format!(
            "SELECT 'row security ' || n.nspname || '.' || c.relname || ' ' || c.relrowsecurity \
                    || ' forced=' || c.relforcerowsecurity AS v \
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE c.relkind IN ('r', 'p') AND n.nspname IN {schemas}"
        ),
        format!(
            "SELECT 'policy ' || schemaname || '.' || tablename || '.' || policyname || ' ' \
                    || md5(permissive || cmd || array_to_string(roles, ',') || '|' \
                           || coalesce(qual, '') || '|' || coalesce(with_check, '')) AS v \
               FROM pg_policies WHERE schemaname IN {schemas}"
        ),
        format!(
            "SELECT 'function ' || n.nspname || '.' || p.proname || '(' \
                    || pg_get_function_identity_arguments(p.oid) || ') definer=' || p.prosecdef \
                    || ' ' || md5(pg_get_functiondef(p.oid)) AS v \
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
              WHERE n.nspname IN {schemas} AND p.prokind IN ('f', 'p')"
        ),
        format!(
            "SELECT 'execute ' || n.nspname || '.' || p.proname || ' to ' \
                    || CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS v \
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
               CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a \
              WHERE n.nspname IN {schemas} AND p.prokind IN ('f', 'p') \
                AND a.privilege_type = 'EXECUTE' \
                AND (a.grantee = 0 OR pg_get_userbyid(a.grantee) IN {ROLES})"
        ),
        // The `bi` schema's objects: their definitions, options and owners (a view
        // owned by another role would read past row-level security).
        "SELECT 'bi ' || c.relname || ' kind=' || c.relkind::text || ' owner=' \
                || pg_get_userbyid(c.relowner) || ' options=' \
                || coalesce(array_to_string(c.reloptions, ','), '') || ' ' \
                || md5(coalesce(pg_get_viewdef(c.oid), '')) AS v \
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE n.nspname = 'bi'"
            .to_owned(),
    ]
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    v: String,
}

fn fingerprint(conn: &mut PgConnection) -> anyhow::Result<BTreeSet<String>> {
    let mut lines = BTreeSet::new();
    for sql in fingerprint_sql() {
        for line in diesel::sql_query(&sql).load::<Line>(conn)? {
            lines.insert(line.v);
        }
    }
    Ok(lines)
}

/// The URL of another database on the server `url` names.
fn sibling(url: &str, database: &str) -> anyhow::Result<String> {
    let mut parsed = url::Url::parse(url).context("the target is not a postgres:// URL")?;
    parsed.set_path(&format!("/{database}"));
    Ok(parsed.to_string())
}

/// Compares the restored database at `url` with a scratch database this binary
/// migrates on the same server. Err names the differences.
pub fn compare_with_migrations(url: &str) -> anyhow::Result<usize> {
    let op = Operator::at_console();
    let mut restored =
        crust_dal::establish(&op, url).context("cannot connect to the restored database")?;
    let found = fingerprint(&mut restored)?;
    let scratch = format!("crust_restore_check_{}", uuid::Uuid::new_v4().simple());
    crust_dal::admin::create_database_if_missing(&op, &mut restored, &scratch).map_err(|e| {
        anyhow!("cannot make a scratch database to compare with (the restoring login needs CREATEDB): {e}")
    })?;
    let expected = (|| -> anyhow::Result<BTreeSet<String>> {
        let mut conn = crust_dal::establish(&op, &sibling(url, &scratch)?)?;
        crust_dal::migrate::run_pending(&op, &mut conn).map_err(|e| anyhow!("{e}"))?;
        fingerprint(&mut conn)
    })();
    let dropped = crust_dal::admin::drop_database_if_exists(&op, &mut restored, &scratch);
    let expected = expected.context("cannot migrate the scratch database to compare with")?;
    dropped.map_err(|e| anyhow!("cannot drop the scratch database {scratch}: {e}"))?;
    let extra: Vec<&String> = found.difference(&expected).collect();
    let missing: Vec<&String> = expected.difference(&found).collect();
    if extra.is_empty() && missing.is_empty() {
        return Ok(expected.len());
    }
    let mut lines: Vec<String> = missing.iter().map(|l| format!("  missing: {l}")).collect();
    lines.extend(
        extra
            .iter()
            .map(|l| format!("  not made by the migrations: {l}")),
    );
    let shown = lines.len().min(20);
    Err(anyhow!(
        "its protection differs from what the migrations make ({} difference(s)); do not \
         serve it — the backup may have been tampered with:\n{}{}",
        lines.len(),
        lines[..shown].join("\n"),
        if lines.len() > shown { "\n  …" } else { "" }
    ))
}
