//! The database as the log's last wall: the application role may only append, chains
//! stay whole under concurrency, and nothing can stand in for the chain heads.

use super::*;

#[tokio::test]
async fn the_app_role_may_append_but_never_update_or_delete() {
    let app = TestApp::start().await;
    let user = app.user("gina").await;
    app.login(&user.email, TEST_PASSWORD).await;
    assert!(
        app.config.database.role.as_deref() == Some("crust_app"),
        "the server runs as crust_app"
    );
    // The server's own pool switches every connection to that role.
    let url = app.db.url.clone();
    let current: String = tokio::task::spawn_blocking(move || {
        let pool = crust_dal::build_pool(
            &url,
            &crust_dal::PoolSettings {
                role: Some("crust_app".into()),
                ..Default::default()
            },
        );
        #[derive(QueryableByName)]
        struct Who {
            #[diesel(sql_type = diesel::sql_types::Text)]
            who: String,
        }
        diesel::sql_query("SELECT current_user::text AS who")
            .get_result::<Who>(&mut pool.get().unwrap())
            .unwrap()
            .who
    })
    .await
    .unwrap();
    assert_eq!(current, "crust_app");

    let mut conn = app.db.connect();
    let count = |conn: &mut PgConnection| -> i64 {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM audit_events)",
        ))
        .get_result(conn)
        .unwrap()
    };
    let before = count(&mut conn);
    assert!(before >= 2);
    diesel::sql_query("SET ROLE crust_app")
        .execute(&mut conn)
        .unwrap();
    for attack in [
        "UPDATE audit_events SET ip = '10.0.0.1'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "DELETE FROM audit_chain_heads",
        "UPDATE audit_chain_heads SET seq = 0",
        "INSERT INTO audit_chain_heads VALUES (gen_random_uuid(), 9, decode(repeat('00', 32), 'hex'))",
    ] {
        let err = diesel::sql_query(attack)
            .execute(&mut conn)
            .unwrap_err()
            .to_string();
        assert!(err.contains("permission denied"), "{attack}: {err}");
    }
    // Appending is what the role is for, and only as the next link of a chain: a copy of
    // the newest event numbered ahead, or re-linked to an older hash, is refused.
    let copy = |changes: &str| {
        format!(
            "INSERT INTO audit_events SELECT (jsonb_populate_record(NULL::audit_events, \
             to_jsonb(e) || jsonb_build_object('id', gen_random_uuid()) || {changes})).* \
             FROM audit_events e WHERE chain = '00000000-0000-0000-0000-000000000000' \
             ORDER BY seq DESC LIMIT 1"
        )
    };
    for changes in [
        "jsonb_build_object('seq', e.seq + 5)",
        "jsonb_build_object('seq', e.seq + 1)",
    ] {
        let err = diesel::sql_query(copy(changes))
            .execute(&mut conn)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("does not continue its chain"),
            "{changes}: {err}"
        );
    }
    diesel::sql_query("RESET ROLE").execute(&mut conn).unwrap();
    // Even the owner is stopped by the trigger (only a superuser switching triggers off
    // gets past it, and the hash chain shows that: see `crust audit verify`).
    for attack in [
        "UPDATE audit_events SET ip = '10.0.0.1'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = diesel::sql_query(attack)
            .execute(&mut conn)
            .unwrap_err()
            .to_string();
        assert!(err.contains("append-only"), "{attack}: {err}");
    }
    // Nor can the owner pass off an edit as pruning: only the exact pseudonymization
    // goes through.
    diesel::sql_query("SET crust.audit_prune = 'on'")
        .execute(&mut conn)
        .unwrap();
    let forged = "UPDATE audit_events SET ip = '192.0.2.99', client_salt = NULL, pruned_at = now()";
    let err = diesel::sql_query(forged)
        .execute(&mut conn)
        .unwrap_err()
        .to_string();
    assert!(err.contains("append-only"), "{err}");
    diesel::sql_query("RESET crust.audit_prune")
        .execute(&mut conn)
        .unwrap();
    #[derive(QueryableByName)]
    struct Net {
        #[diesel(sql_type = diesel::sql_types::Text)]
        net: String,
    }
    for (ip, net) in [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::/48"),
        ("2001:0:0:1::9", "2001::/48"),
        ("not an address", "unknown"),
    ] {
        let got: Net = diesel::sql_query("SELECT audit_pseudonymize_ip($1) AS net")
            .bind::<diesel::sql_types::Text, _>(ip)
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(got.net, net, "{ip}");
    }
    assert_eq!(count(&mut conn), before, "nothing changed");
}

#[tokio::test]
async fn temporary_tables_cannot_stand_in_for_the_chain_heads() {
    let app = TestApp::start().await;
    let user = app.user("tess").await;
    app.login(&user.email, TEST_PASSWORD).await;
    let global = "'00000000-0000-0000-0000-000000000000'";
    let mut conn = app.db.connect();
    diesel::sql_query("SET ROLE crust_app")
        .execute(&mut conn)
        .unwrap();
    // The link trigger runs as the owner but in this session, whose temporary schema
    // comes first on a search path that does not name it. A head of the attacker's
    // choosing, under the real head's name...
    diesel::sql_query(
        "CREATE TEMP TABLE audit_chain_heads (chain uuid PRIMARY KEY, seq bigint NOT NULL, hash bytea NOT NULL)",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO audit_chain_heads SELECT chain, seq, decode(repeat('ff', 32), 'hex') \
         FROM public.audit_chain_heads WHERE chain = {global}"
    ))
    .execute(&mut conn)
    .unwrap();
    // ...and an event linked to it rather than to the real newest event.
    let forged = format!(
        "INSERT INTO audit_events SELECT (jsonb_populate_record(NULL::audit_events, \
         to_jsonb(e) || jsonb_build_object('id', gen_random_uuid(), 'seq', e.seq + 1, \
         'prev_hash', '\\x' || repeat('ff', 32)))).* \
         FROM public.audit_events e WHERE chain = {global} ORDER BY seq DESC LIMIT 1"
    );
    let err = diesel::sql_query(forged)
        .execute(&mut conn)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not continue its chain"), "{err}");
    // The server appends on, and every chain verifies.
    drop(conn);
    assert!(app.login(&user.email, TEST_PASSWORD).await["data"]["login"].is_object());
    let mut conn = app.db.connect();
    let report = crust_dal::audit::verify(&crust_dal::Operator::at_console(), &mut conn).unwrap();
    assert!(report.broken.is_empty(), "{:?}", report.broken);
    assert!(report.events >= 3);
}

#[tokio::test]
async fn a_deployment_without_a_superuser_migrates_and_runs_as_crust_app() {
    // As a DBA would set it up: a login role that may create roles, owning the database.
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (login, database) = (format!("deploy_{suffix}"), format!("crust_deploy_{suffix}"));
    let mut admin = PgConnection::establish(&crust_e2e::db::admin_url()).unwrap();
    diesel::sql_query(format!("CREATE ROLE {login} LOGIN CREATEROLE"))
        .execute(&mut admin)
        .unwrap();
    diesel::sql_query(format!("CREATE DATABASE {database} OWNER {login}"))
        .execute(&mut admin)
        .unwrap();
    let url = crust_e2e::db::url_for(&database).replacen("postgres@", &format!("{login}@"), 1);
    assert!(url.contains(&login), "{url}");

    let mut conn = PgConnection::establish(&url).unwrap();
    crust_dal::migrate::run_pending(&crust_dal::Operator::at_console(), &mut conn).unwrap();
    let app = TestApp::start_with(|c| c.database.url = crust_e2e::secret(&url)).await;
    let user = app.user("lee").await;
    let org = app.create_org(&user, "Owned by a plain role").await;
    let d = app.ok(&user, AUDIT_Q, json!({ "o": org })).await;
    assert_eq!(d["auditEvents"]["totalCount"], 1, "{d}");
    // The login role owns the tables, yet the server's connections cannot change the log.
    diesel::sql_query("SET ROLE crust_app")
        .execute(&mut conn)
        .unwrap();
    let err = diesel::sql_query("DELETE FROM audit_events")
        .execute(&mut conn)
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    drop(conn);
    drop(app);

    // The hardened set-up: the server logs in as a role that is only a member of
    // crust_app. Even code that ran `RESET ROLE` on its connection could neither write
    // the log nor switch its trigger off (that takes the table's owner).
    let web = format!("web_{suffix}");
    diesel::sql_query(format!("CREATE ROLE {web} LOGIN IN ROLE crust_app"))
        .execute(&mut admin)
        .unwrap();
    let web_url = url.replacen(&format!("{login}@"), &format!("{web}@"), 1);
    let app = TestApp::start_with(|c| c.database.url = crust_e2e::secret(&web_url)).await;
    let user = app.user("mo").await;
    let org = app.create_org(&user, "Served by a member login").await;
    let d = app.ok(&user, AUDIT_Q, json!({ "o": org })).await;
    assert_eq!(d["auditEvents"]["totalCount"], 1, "{d}");
    let mut conn = PgConnection::establish(&web_url).unwrap();
    for attack in [
        "UPDATE audit_events SET ip = NULL",
        "DELETE FROM audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "DROP TABLE audit_events",
    ] {
        diesel::sql_query("RESET ROLE").execute(&mut conn).unwrap();
        let err = diesel::sql_query(attack)
            .execute(&mut conn)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("permission denied") || err.contains("must be owner"),
            "{attack}: {err}"
        );
    }
    drop(conn);
    drop(app);
    let _ = diesel::sql_query(format!("DROP DATABASE {database} WITH (FORCE)")).execute(&mut admin);
    for role in [&web, &login] {
        let _ = diesel::sql_query(format!("REVOKE crust_app FROM {role}")).execute(&mut admin);
        let _ = diesel::sql_query(format!("DROP ROLE {role}")).execute(&mut admin);
    }
}

#[tokio::test]
async fn concurrent_appends_keep_every_chain_whole() {
    let app = TestApp::start().await;
    let o = org(&app).await;
    // Many writers in one organization at once, through the API...
    let mut writers = Vec::new();
    for i in 0..24 {
        let (app_url, token, project, box_id) = (
            app.url("/graphql"),
            o.owner.access.clone(),
            o.project.clone(),
            o.box_id.clone(),
        );
        writers.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(app_url)
                .bearer_auth(token)
                .json(&json!({ "query": "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }", "variables": { "i": { "projectId": project, "boxId": box_id, "title": format!("T{i}") } } }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }));
    }
    for w in writers {
        let body = w.await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");
    }
    // ...and many first events of a brand-new chain, straight through the DAL.
    let url = app.db.url.clone();
    let fresh = uuid::Uuid::new_v4();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut conn = PgConnection::establish(&url).unwrap();
                let mut e = crust_dal::audit::NewEvent::new(
                    "probe",
                    crust_domain::audit::Outcome::Ok,
                    Default::default(),
                );
                e.organization = Some(fresh);
                crust_dal::audit::append(&mut conn, &e).unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut conn = app.db.connect();
    let report = crust_dal::audit::verify(&crust_dal::Operator::at_console(), &mut conn).unwrap();
    assert!(report.broken.is_empty(), "{:?}", report.broken);
    assert_eq!(rows(&app, &format!("chain = '{fresh}'")).len(), 8);
    let seqs: Vec<i64> = rows(&app, &format!("chain = '{}'", o.org))
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "numbered without gaps or twins"
    );
    assert!(seqs.len() >= 34);
}
