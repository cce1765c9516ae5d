//! GraphQL over HTTP as the spec has it: the graphql-http package's own server audit
//! run against the real server, media types chosen from `Accept`, request errors
//! without `data` and with the status their media type calls for, and trusted
//! documents (persisted operations) named by hash.

use crust_e2e::{peers, TestApp};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{json, Value};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// The graphql-http version the README quotes the audit's result for.
const GRAPHQL_HTTP: &str = "graphql-http@1.23.1";

#[tokio::test]
async fn the_graphql_over_http_audit_passes_every_must_and_should() {
    let app = TestApp::start().await;
    let who = app.user("Auditor").await;
    let dir = peers::npm("graphql-http", &[GRAPHQL_HTTP, "graphql@16.15.0"]);
    // Node resolves a module's imports from where the module is, so it runs from there.
    let script = dir.join("audit.mjs");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/graphql-http-audit.mjs"
        ),
        &script,
    )
    .unwrap();
    let (url, token) = (app.url("/graphql"), who.access.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(&script)
            .env("CRUST_URL", url)
            .env("CRUST_TOKEN", token)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs the audit");
    assert!(
        out.status.success(),
        "the audit did not run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut failed = Vec::new();
    let mut counts = std::collections::BTreeMap::<&str, (usize, usize)>::new();
    for r in &results {
        let name = r["name"].as_str().unwrap();
        let level = name.split(' ').next().unwrap();
        let entry = counts.entry(level).or_default();
        entry.1 += 1;
        if r["status"] == "ok" {
            entry.0 += 1;
        } else {
            failed.push(format!("{} {name}: {}", r["id"], r["reason"]));
        }
    }
    for (level, (ok, all)) in &counts {
        println!("graphql-http audit: {level} {ok}/{all} passed");
    }
    // Only MAYs may fail, and none does today: a MAY that starts failing is a change
    // to look at, not to let through.
    assert!(failed.is_empty(), "audits failed:\n{}", failed.join("\n"));
    assert!(
        results.len() >= 45 && counts.len() == 3,
        "the audit ran {} checks: {counts:?}",
        results.len()
    );
}

async fn post(app: &TestApp, token: Option<&str>, accept: &str, body: Value) -> reqwest::Response {
    let mut req = app
        .http
        .post(app.url("/graphql"))
        .header(ACCEPT, accept)
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

fn content_type(res: &reqwest::Response) -> String {
    res.headers()[CONTENT_TYPE].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn accept_decides_the_media_type_and_the_status_of_request_errors() {
    let app = TestApp::start().await;
    let who = app.user("Reader").await;
    let token = Some(who.access.as_str());
    let unknown_field = json!({ "query": "{ noSuchField }" });

    // Nothing we can answer in: 406, saying what we answer in.
    let res = post(
        &app,
        token,
        "text/html",
        json!({ "query": "{ __typename }" }),
    )
    .await;
    assert_eq!(res.status(), 406);
    let body: Value = res.json().await.unwrap();
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains(GRAPHQL_RESPONSE));

    // A validation error: no `data` at all; 400 under the new media type, 200 under
    // the old one.
    for (accept, status) in [(GRAPHQL_RESPONSE, 400), ("application/json", 200)] {
        let res = post(&app, token, accept, unknown_field.clone()).await;
        assert_eq!(res.status(), status, "{accept}");
        assert!(content_type(&res).starts_with(accept), "{accept}");
        let body: Value = res.json().await.unwrap();
        assert!(body.get("data").is_none(), "{accept}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }

    // Refused before it ran, for want of a token: 401 with the scheme to use.
    let res = post(
        &app,
        None,
        GRAPHQL_RESPONSE,
        json!({ "query": "{ me { id } }" }),
    )
    .await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let body: Value = res.json().await.unwrap();
    assert!(body.get("data").is_none());
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    // A field error once execution began: `data` is there (null here, the field being
    // non-null), and the answer is 200 under either media type.
    let missing =
        json!({ "query": "{ project(id: \"00000000-0000-0000-0000-000000000000\") { id } }" });
    let res = post(&app, token, GRAPHQL_RESPONSE, missing).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body.get("data").is_some_and(Value::is_null), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");

    // Early refusals of the body take the negotiated media type too.
    let res = app
        .http
        .post(app.url("/graphql"))
        .header(ACCEPT, GRAPHQL_RESPONSE)
        .header(CONTENT_TYPE, "application/json")
        .body("{\"query\": 42}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(content_type(&res).starts_with(GRAPHQL_RESPONSE));
    let body: Value = res.json().await.unwrap();
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("`query` must be a string"));
}

/// A manifest in Apollo's format, in a directory of its own (removed on drop).
pub(crate) struct Manifest(std::path::PathBuf);

impl Drop for Manifest {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn manifest(documents: &[&str]) -> (Manifest, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("crust-manifest-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("persisted-documents.json");
    let operations: Vec<Value> = documents
        .iter()
        .map(|d| json!({ "id": crust_api::graphql::sha256_hex(d), "body": d, "type": "query" }))
        .collect();
    let text = json!({
        "format": "apollo-persisted-query-manifest", "version": 1, "operations": operations,
    });
    std::fs::write(&path, text.to_string()).unwrap();
    (Manifest(dir), path)
}

const ME: &str = "query Me { me { id email } }";

pub(crate) fn by_hash(document: &str) -> Value {
    json!({ "extensions": { "persistedQuery": {
        "version": 1, "sha256Hash": crust_api::graphql::sha256_hex(document),
    } } })
}

#[tokio::test]
async fn only_trusted_documents_run_for_signed_in_callers_when_so_configured() {
    let (_dir, path) = manifest(&[ME]);
    let app = TestApp::start_with(|c| {
        c.graphql.trusted_documents = Some(path);
        c.graphql.trusted_documents_only = true;
    })
    .await;
    // Signing in is not a trusted document, and it still works.
    let who = app.user("Trusting").await;
    let token = Some(who.access.as_str());

    // By hash alone, over POST and over GET.
    let res = post(&app, token, GRAPHQL_RESPONSE, by_hash(ME)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["me"]["email"], who.email.as_str(), "{body}");
    let extensions = by_hash(ME)["extensions"].to_string();
    let res = app
        .http
        .get(app.url("/graphql"))
        .query(&[("extensions", extensions.as_str())])
        .bearer_auth(&who.access)
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["me"]["id"], who.id.as_str(), "{body}");

    // The trusted text itself, without the hash, is trusted too.
    let body = app.gql(token, ME, json!({})).await;
    assert_eq!(body["data"]["me"]["id"], who.id.as_str(), "{body}");

    // Anything else is refused before it runs, saying what to send instead; in each
    // form a document can take.
    for other in [
        "{ me { id } }",
        "query Me { me { id email } } ",
        "query { ...F } fragment F on Query { me { id } }",
        "mutation { logout }",
    ] {
        let res = post(&app, token, GRAPHQL_RESPONSE, json!({ "query": other })).await;
        assert_eq!(res.status(), 403, "{other}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{other}"
        );
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("persistedQuery.sha256Hash"));
    }

    // A hash with another text: refused, whatever the manifest holds.
    let mut forged = by_hash(ME);
    forged["query"] = json!("{ me { id } }");
    let body: Value = post(&app, token, "application/json", forged)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    // An unknown hash: Apollo's PersistedQueryNotFound, with what to do.
    let body: Value = post(&app, token, "application/json", by_hash("{ me { name } }"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    assert!(body["errors"][0]["extensions"]["detail"]
        .as_str()
        .unwrap()
        .contains("CRUST_TRUSTED_DOCUMENTS"));
}

#[tokio::test]
async fn without_trusted_only_an_unknown_hash_is_followed_by_its_text() {
    let (_dir, path) = manifest(&[ME]);
    let app = TestApp::start_with(|c| c.graphql.trusted_documents = Some(path)).await;
    let who = app.user("Apq").await;
    let token = Some(who.access.as_str());
    let other = "{ me { name } }";
    // Apollo's link: the hash first, then, on PersistedQueryNotFound, hash and text.
    let body: Value = post(&app, token, "application/json", by_hash(other))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    let mut retry = by_hash(other);
    retry["query"] = json!(other);
    let body: Value = post(&app, token, "application/json", retry)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["me"]["name"], "Apq", "{body}");
    // And arbitrary documents run, as without a manifest.
    let body = app.gql(token, "{ me { email } }", json!({})).await;
    assert_eq!(body["data"]["me"]["email"], who.email.as_str());
}

/// A batch is held to the same rules item by item: each item named by hash is looked
/// up, checked against its text, costed and trusted (or not) on its own, and one
/// item's refusal neither runs nor hides another's answer.
#[tokio::test]
async fn a_batch_of_hashes_is_checked_item_by_item() {
    let (_dir, path) = manifest(&[ME, EVERYTHING]);
    let app = TestApp::start_with(|c| {
        c.graphql.trusted_documents = Some(path);
        c.graphql.trusted_documents_only = true;
        c.graphql.max_batch = 5;
    })
    .await;
    let who = app.user("Batcher").await;
    let mut forged = by_hash(ME);
    forged["query"] = json!("{ me { email } }");
    let batch = json!([
        by_hash(ME),
        by_hash(EVERYTHING),
        by_hash("{ me { name } }"),
        { "query": "{ me { id } }" },
        forged,
    ]);
    let res = post(&app, Some(&who.access), GRAPHQL_RESPONSE, batch).await;
    assert_eq!(
        res.status(),
        200,
        "a batch's answers carry their own errors"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body[0]["data"]["me"]["id"], who.id.as_str(), "{body}");
    // Trusted, yet over the cost ceiling: trusted documents are costed too.
    let (code, message) = error_of(&body[1]);
    assert_eq!(code, "BAD_USER_INPUT", "{body}");
    assert!(message.contains("ceiling"), "{message}");
    assert_eq!(body[2]["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(error_of(&body[3]).0, "FORBIDDEN", "{body}");
    let (code, message) = error_of(&body[4]);
    assert_eq!(code, "BAD_USER_INPUT", "{body}");
    assert!(message.contains("SHA-256"), "{message}");
    for refused in &body.as_array().unwrap()[1..] {
        assert!(refused.get("data").is_none_or(Value::is_null), "{refused}");
    }
}

/// What a new SPA developer writes first: everything, without `first:` anywhere.
const EVERYTHING: &str = "{ organizations { nodes { id name projects { nodes { id name
    slices { nodes { id name boxes { nodes { id name tasks { nodes { id title
    assignees { id name } } } } } } } } } } } }";

fn error_of(body: &Value) -> (&str, &str) {
    let error = &body["errors"][0];
    (
        error["extensions"]["code"].as_str().unwrap_or_default(),
        error["message"].as_str().unwrap_or_default(),
    )
}

#[tokio::test]
async fn refusals_say_what_to_change_in_every_form_of_request() {
    let app = TestApp::start().await;
    let who = app.user("Newcomer").await;
    let token = Some(who.access.as_str());

    // Too costly: the cost, the ceiling and the lists to bound, in words and figures;
    // however the document is written.
    let through_fragments = "query Q($n: Int) { ...Top } fragment Top on Query { orgs: organizations(first: $n) { nodes { ... on Organization { id projects { nodes { ...P } } } } } } fragment P on Project { slices { nodes { boxes { nodes { tasks { nodes { id assignees { id } } } } } } } }";
    for (query, variables) in [
        (EVERYTHING, json!({})),
        (through_fragments, json!({ "n": 100 })),
    ] {
        let body = app.gql(token, query, variables).await;
        let (code, message) = error_of(&body);
        assert_eq!(code, "BAD_USER_INPUT", "{body}");
        assert!(message.contains("ceiling of 2,000,000"), "{message}");
        assert!(message.contains("`first:`"), "{message}");
        let extensions = &body["errors"][0]["extensions"];
        assert!(extensions["cost"].as_u64().unwrap() > 2_000_000);
        assert_eq!(extensions["ceiling"], 2_000_000);
        assert_eq!(extensions["costliest"].as_array().unwrap().len(), 5);
    }
    let body = app.gql(token, through_fragments, json!({ "n": 100 })).await;
    // A list inside a fragment is named from the fragment.
    assert_eq!(
        body["errors"][0]["extensions"]["costliest"][0]["path"],
        "...Top.orgs"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["costliest"][0]["firstGiven"],
        true
    );
    // Over GET too.
    let res = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", EVERYTHING)])
        .bearer_auth(&who.access)
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert!(error_of(&body).1.contains("ceiling"), "{body}");

    // An anonymous caller learns nothing of the schema's lists from a refusal.
    let body = app.gql(None, EVERYTHING, json!({})).await;
    assert_eq!(error_of(&body).0, "UNAUTHENTICATED");
    assert!(body["errors"][0]["extensions"].get("cost").is_none());

    // Too deep: where, and what to do.
    let deep = "{ organizations(first: 2) { edges { node { projects(first: 2) { edges { node {
        slices(first: 2) { edges { node { boxes(first: 2) { edges { node {
        tasks(first: 2) { edges { node { assignees { id } } } } } } } } } } } } } } } } }";
    let body = app.gql(token, deep, json!({})).await;
    let (code, message) = error_of(&body);
    assert_eq!(code, "BAD_USER_INPUT", "{body}");
    assert!(
        message.contains("(at `organizations.edges.node.projects.edges.node"),
        "{message}"
    );
    assert!(message.contains("second query"), "{message}");

    // A page too large, and too many aliases.
    let body = app
        .gql(
            token,
            "{ organizations(first: 500) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(error_of(&body).1.contains("pageInfo.endCursor"), "{body}");
    let aliases: String = (0..16).map(|i| format!("a{i}: __typename ")).collect();
    let body = app.gql(token, &format!("{{ {aliases} }}"), json!({})).await;
    assert!(
        error_of(&body).1.contains("ask for each field once"),
        "{body}"
    );
}
