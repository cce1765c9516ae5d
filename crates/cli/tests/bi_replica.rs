//! BI logins on a real streaming replica: `crust bi grant` on the primary, a hot standby
//! with TLS and the `pg_hba.conf` lines `crust bi grant` printed, and BI clients no one
//! here wrote (libpq through diesel, `psql`, pandas with SQLAlchemy) reading the views.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use crust_e2e::replica::Replica;
use crust_e2e::{Session, TestApp};
use diesel::prelude::*;
use serde_json::json;

fn crust() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crust"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CRUST_") || key == "DATABASE_URL" {
            c.env_remove(key);
        }
    }
    c.env("RUST_LOG", "warn");
    c
}

/// `crust bi grant`: (role, password, the replica's pg_hba lines, the primary's).
fn grant(app: &TestApp, org: &str, allow: &str) -> (String, String, Vec<String>, Vec<String>) {
    let out = crust()
        .args([
            "bi",
            "grant",
            "--org",
            org,
            "--allow",
            allow,
            "--connection-limit",
            "4",
        ])
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    };
    let hba = stdout
        .lines()
        .filter(|l| l.starts_with("hostssl "))
        .map(str::to_owned)
        .collect();
    let primary = stdout
        .lines()
        .filter(|l| l.starts_with("host all ") || l.starts_with("local all "))
        .map(str::to_owned)
        .collect();
    (field("BI login:"), field("password:"), hba, primary)
}

fn crust_ok(app: &TestApp, args: &[&str]) -> String {
    let out = crust()
        .args(args)
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// An organization with work, and a MEMBER who sees what BI sees (not on any SECRET
/// task's list): (org, member).
async fn org_with_work(app: &TestApp, owner: &Session, name: &str) -> (String, Session) {
    let org = app.create_org(owner, name).await;
    let member = app.user(&format!("{name}member")).await;
    app.add_org_member(owner, &org, &member, "MEMBER").await;
    for p in 0..2 {
        let project = app
            .create_project(owner, &org, "ORGANIZATION", "CONFIDENTIAL")
            .await;
        for (i, fields) in [
            "status: DONE, durationDays: 3",
            "status: IN_PROGRESS, progress: 40",
            "status: NOT_NEEDED",
        ]
        .iter()
        .enumerate()
        {
            let t = app.create_task(owner, &project, None, "CONFIDENTIAL").await;
            app.ok(owner, &format!("mutation($t: ID!) {{ updateTask(input: {{taskId: $t, title: \"{name} task {p}.{i}\", {fields}}}) {{ task {{ id }} }} }}"), json!({ "t": t })).await;
        }
        app.create_task(owner, &project, None, "SECRET").await;
    }
    let secret = app
        .create_project(owner, &org, "ORGANIZATION", "SECRET")
        .await;
    app.create_task(owner, &secret, None, "CONFIDENTIAL").await;
    (org, member)
}

/// What the API shows a plain member (SECRET work is not theirs to see; left out
/// again here to be sure): (tasks, progress by project).
async fn api_view(app: &TestApp, member: &Session, org: &str) -> (usize, Vec<(String, f64)>) {
    let d = app.ok(member, "query($o: ID!) { projects(organizationId: $o) { nodes { id classification progress } } tasks(filter: {organizationId: $o}, first: 100) { nodes { classification project { classification } } } }", json!({ "o": org })).await;
    let tasks = d["tasks"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["classification"] == "CONFIDENTIAL"
                && t["project"]["classification"] == "CONFIDENTIAL"
        })
        .count();
    let mut progress: Vec<(String, f64)> = d["projects"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["classification"] == "CONFIDENTIAL")
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["progress"].as_f64().unwrap(),
            )
        })
        .collect();
    progress.sort_by(|a, b| a.0.cmp(&b.0));
    (tasks, progress)
}

use crust_e2e::db::try_texts as texts;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bi_logins_read_their_organization_on_a_tls_standby_and_nothing_else() {
    let app = TestApp::start().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (org_a, member_a) = org_with_work(&app, &alice, "Alpha").await;
    let (org_b, member_b) = org_with_work(&app, &bob, "Bravo").await;
    let (role_a, pw_a, hba_a, primary_lines) = grant(&app, &org_a, "127.0.0.1/32");
    let (role_b, pw_b, hba_b, _) = grant(&app, &org_b, "127.0.0.1/32");
    let database = app.db.name.clone();
    assert_eq!(
        hba_a,
        [format!(
            "hostssl {database} {role_a} 127.0.0.1/32 scram-sha-256"
        )]
    );

    let admin = crust_e2e::db::admin_url();
    let replica = Replica::start(&admin, &[hba_a.clone(), hba_b.clone()].concat());

    // On the primary, the lines `crust bi grant` printed for it keep BI logins out
    // (they could write large objects, take advisory locks, change their own password).
    assert_eq!(
        primary_lines,
        [format!("host all {role_a} all reject"), format!("local all {role_a} reject")],
        "one line per login: `+crust_bi` would match the owner login too, which administers the group"
    );
    {
        let lines: Vec<&str> = primary_lines.iter().map(String::as_str).collect();
        let _guard = crust_e2e::replica::PrimaryHbaLines::add(&admin, &lines);
        let on_primary = format!("postgres://{role_a}:{pw_a}@127.0.0.1:5432/{}", app.db.name);
        let refused = PgConnection::establish(&on_primary)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            refused.contains("rejects connection") || refused.contains("pg_hba.conf"),
            "{refused}"
        );
    }
    let mut primary = PgConnection::establish(&admin).unwrap();
    replica.caught_up(&mut primary, &database);

    for (role, pw, member, org, other) in [
        (&role_a, &pw_a, &member_a, &org_a, "Bravo"),
        (&role_b, &pw_b, &member_b, &org_b, "Alpha"),
    ] {
        let mut bi = PgConnection::establish(&replica.url(role, pw, &database, "require"))
            .unwrap_or_else(|e| panic!("{role} over TLS: {e}"));
        let (tasks, progress) = api_view(&app, member, org).await;
        assert_eq!(
            texts(&mut bi, "SELECT count(*)::text AS v FROM bi.tasks").unwrap(),
            [tasks.to_string()],
            "{role}"
        );
        let sql_progress = texts(&mut bi, "SELECT project_id::text || ' ' || progress::text AS v FROM bi.project_progress ORDER BY project_id").unwrap();
        assert_eq!(sql_progress.len(), progress.len());
        for (row, (id, api)) in sql_progress.iter().zip(&progress) {
            let (rid, value) = row.split_once(' ').unwrap();
            assert_eq!(rid, id);
            assert!(
                (value.parse::<f64>().unwrap() - api).abs() < 1e-3,
                "{row} against {api}"
            );
        }
        for view in [
            "projects",
            "tasks",
            "members",
            "project_progress",
            "task_status_history",
        ] {
            for row in texts(
                &mut bi,
                &format!("SELECT row_to_json(v)::text AS v FROM bi.{view} v"),
            )
            .unwrap()
            {
                assert!(
                    !row.contains(other),
                    "{role} sees {other} in bi.{view}: {row}"
                );
            }
        }
        for sql in [
            "SELECT 'x' AS v FROM public.tasks",
            "SELECT 'x' AS v FROM public.bi_logins",
            "SELECT 'x' AS v FROM public.users",
        ] {
            let err = texts(&mut bi, sql).unwrap_err();
            assert!(err.contains("permission denied"), "{sql}: {err}");
        }
        for sql in [
            "DELETE FROM bi.tasks",
            "CREATE TEMP TABLE t (a int)",
            "SET ROLE crust_app",
            "SET ROLE crust_bi_reader",
        ] {
            assert!(
                diesel::sql_query(sql).execute(&mut bi).is_err(),
                "{sql} went through"
            );
        }
    }

    // Refused without TLS, with a wrong password, from outside the allow list.
    let plain = PgConnection::establish(&replica.url(&role_a, &pw_a, &database, "disable"));
    assert!(
        plain.err().unwrap().to_string().contains("no encryption"),
        "TLS is required"
    );
    assert!(PgConnection::establish(&replica.url(
        &role_a,
        "not-the-password",
        &database,
        "require"
    ))
    .is_err());

    // psql, a BI client no one here wrote.
    let psql = Command::new("psql")
        .arg(replica.url(&role_a, &pw_a, &database, "require"))
        .args(["-Atc", "SELECT count(*) FROM bi.projects"])
        .output()
        .unwrap();
    assert!(
        psql.status.success(),
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "2");

    // pandas with SQLAlchemy over TLS: the per-project progress table equals the API's.
    let python = crust_e2e::peers::venv("bi-clients", &["pandas", "sqlalchemy", "psycopg2-binary"]);
    let script = r#"
import sys
import pandas as pd
import sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
t = pd.read_sql("SELECT project_id::text AS project_id, status, progress, duration_days FROM bi.tasks", engine)
t = t[t.status != "NOT_NEEDED"]
weight = t.duration_days.fillna(1)
done = t.progress.where(t.status != "DONE", 100)
table = (done * weight).groupby(t.project_id).sum() / weight.groupby(t.project_id).sum()
for project, value in sorted(table.items()):
    print(project, round(value, 4))
"#;
    let url = format!(
        "postgresql+psycopg2://{role_a}:{pw_a}@127.0.0.1:{}/{database}?sslmode=require",
        replica.port
    );
    let out = Command::new(&python)
        .args(["-c", script, &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, progress) = api_view(&app, &member_a, &org_a).await;
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), progress.len(), "{lines:?}");
    for (line, (id, api)) in lines.iter().zip(&progress) {
        let (pid, value) = line.split_once(' ').unwrap();
        assert_eq!(pid, id);
        assert!(
            (value.parse::<f64>().unwrap() - api).abs() < 1e-3,
            "pandas {line} against API {api}"
        );
    }

    // The allow list: Bravo's line now names another address; Alpha's still works.
    replica.set_hba(
        &[
            hba_a.clone(),
            vec![format!(
                "hostssl {database} {role_b} 127.0.0.2/32 scram-sha-256"
            )],
        ]
        .concat(),
    );
    assert!(
        PgConnection::establish(&replica.url(&role_b, &pw_b, &database, "require")).is_err(),
        "outside the allow list"
    );
    assert!(PgConnection::establish(&replica.url(&role_a, &pw_a, &database, "require")).is_ok());

    // Rotate: the new password reaches the standby by replication, the old one dies.
    let rotated = crust_ok(&app, &["bi", "rotate", "--org", &org_a]);
    let new_pw = rotated
        .lines()
        .find_map(|l| l.strip_prefix("password:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    replica.caught_up(&mut primary, &database);
    assert!(
        PgConnection::establish(&replica.url(&role_a, &pw_a, &database, "require")).is_err(),
        "the old password is dead"
    );
    assert!(PgConnection::establish(&replica.url(&role_a, &new_pw, &database, "require")).is_ok());

    // The data dictionary, as an analyst reads it.
    let dictionary = crust_ok(&app, &["bi", "describe"]);
    assert!(
        dictionary.contains("bi.project_progress: Duration-weighted progress per project"),
        "{dictionary}"
    );
    assert!(
        dictionary.contains("hours_in_status") && dictionary.contains("Hours spent in the status"),
        "{dictionary}"
    );
    assert!(
        dictionary.contains("Its project's name.") && !dictionary.contains("projects name"),
        "{dictionary}"
    );

    // Revoke: the role is gone on the standby too.
    crust_ok(&app, &["bi", "revoke", "--org", &org_a]);
    crust_ok(&app, &["bi", "revoke", "--org", &org_b]);
    replica.caught_up(&mut primary, &database);
    assert!(
        PgConnection::establish(&replica.url(&role_a, &new_pw, &database, "require")).is_err(),
        "revoked"
    );
}
