use std::sync::{Arc, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::{EmptySubscription, Request, Schema, ValidationResult};

use super::*;
use crate::graphql::{Mutation, Query, Root};

/// async-graphql's own figures for a document, caught in validation (nothing runs).
#[derive(Clone, Default)]
struct Caught(Arc<Mutex<Option<(usize, usize)>>>);

impl ExtensionFactory for Caught {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Caught {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        *self.0.lock().unwrap() = Some((result.complexity, result.depth));
        Err(vec![ServerError::new("caught", None)])
    }
}

fn theirs(query: &str, variables: serde_json::Value) -> (u64, usize) {
    let caught = Caught::default();
    let schema = Schema::build(
        Root::query(Query::default(), false),
        Root::mutation(Mutation::default(), false),
        EmptySubscription,
    )
    .extension(caught.clone())
    .finish();
    let request = Request::new(query).variables(Variables::from_json(variables));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let response = runtime.block_on(schema.execute(request));
    let figures = caught.0.lock().unwrap().take();
    let (cost, depth) = figures.unwrap_or_else(|| panic!("not valid: {:?}", response.errors));
    (cost as u64, depth)
}

fn ours(query: &str, variables: serde_json::Value) -> Figures {
    let doc = async_graphql::parser::parse_query(query).unwrap();
    figures(&doc, &Variables::from_json(variables))
}

/// The natural first query of a new SPA developer: everything, no `first:` anywhere.
const EVERYTHING: &str = "{ organizations { nodes { id name
    projects { nodes { id name slices { nodes { id name
      boxes { nodes { id name tasks { nodes { id title assignees { id name } } } } } } } } } } } }";

#[test]
fn cost_is_what_async_graphql_computes() {
    let documents: &[(&str, serde_json::Value)] = &[
        ("{ __typename }", serde_json::json!({})),
        (EVERYTHING, serde_json::json!({})),
        (
            "{ organizations { edges { node { projects { edges { node { __typename id } } } } } } }",
            serde_json::json!({}),
        ),
        (
            "query($n: Int) { organizations(first: $n) { edges { node { projects(first: 3) { totalCount } } } } }",
            serde_json::json!({ "n": 7 }),
        ),
        (
            "query($n: Int = 4) { organizations(first: $n) { edges { node { id } } } }",
            serde_json::json!({}),
        ),
        (
            "query A { ...Orgs } query B { me { id } } fragment Orgs on Query { organizations(first: 2) { edges { node { ... on Organization { id projects { edges { node { id } } } } } } } }",
            serde_json::json!({}),
        ),
        (
            "{ a: organizations(first: 100) { totalCount } b: organizations(first: 0) { totalCount } }",
            serde_json::json!({}),
        ),
        (
            "{ recipe(id: \"x\") { slices { boxes { tasks { title } } } } }",
            serde_json::json!({}),
        ),
        (
            "{ task(id: \"x\") { id assignees { id } dependsOn { __typename } grants { __typename } comments(first: 3) { totalCount } } }",
            serde_json::json!({}),
        ),
        (
            "{ __schema { types { name fields { name args { name } } } } }",
            serde_json::json!({}),
        ),
        (
            "mutation { createProject(input: {organizationId: \"x\", name: \"n\"}) { project { id } } }",
            serde_json::json!({}),
        ),
    ];
    for (query, variables) in documents {
        let (cost, depth) = theirs(query, variables.clone());
        let mine = ours(query, variables.clone());
        assert_eq!((mine.cost, mine.depth), (cost, depth), "{query}");
    }
}

use crate::graphql::document::tests::limits;

#[test]
fn a_refusal_names_the_cost_the_ceiling_and_the_lists_to_bound() {
    let doc = async_graphql::parser::parse_query(EVERYTHING).unwrap();
    let error = check(&doc, &Variables::default(), &limits()).unwrap_err();
    let message = &error.message;
    assert!(message.contains("ceiling of 2,000,000"), "{message}");
    assert!(message.contains("`organizations` "), "{message}");
    assert!(
        message.contains("no `first:`, so 50 items assumed"),
        "{message}"
    );
    let extensions = error.extensions.as_ref().unwrap();
    let cost = ours(EVERYTHING, serde_json::json!({})).cost;
    assert_eq!(extensions.get("cost"), Some(&Value::from(cost)));
    assert_eq!(extensions.get("ceiling"), Some(&Value::from(2_000_000u64)));
    let Some(Value::List(costliest)) = extensions.get("costliest") else {
        panic!("no costliest lists: {extensions:?}");
    };
    assert_eq!(costliest.len(), LISTED);
    // The first named is the outermost list: it costs the whole query.
    let Value::Object(first) = &costliest[0] else {
        panic!("not an object: {costliest:?}")
    };
    assert_eq!(first.get("path"), Some(&Value::from("organizations")));
    assert_eq!(first.get("cost"), Some(&Value::from(cost)));

    // Bounded as the message says, the same tree is accepted.
    let bounded = EVERYTHING
        .replace("organizations {", "organizations(first: 5) {")
        .replace("projects {", "projects(first: 5) {")
        .replace("slices {", "slices(first: 5) {")
        .replace("boxes {", "boxes(first: 5) {")
        .replace("tasks {", "tasks(first: 20) {");
    let doc = async_graphql::parser::parse_query(&bounded).unwrap();
    assert!(
        check(&doc, &Variables::default(), &limits()).is_ok(),
        "{bounded}"
    );
}

#[test]
fn a_refusal_for_depth_says_where() {
    let mut limits = limits();
    limits.max_depth = 4;
    let query = "{ organizations(first: 1) { edges { node { projects(first: 1) { edges { node { id } } } } } } }";
    let doc = async_graphql::parser::parse_query(query).unwrap();
    let error = check(&doc, &Variables::default(), &limits).unwrap_err();
    assert!(
        error
            .message
            .contains("7 deep (at `organizations.edges.node.projects.edges.node.id`)"),
        "{}",
        error.message
    );
    // Through a fragment, the path starts at the fragment.
    let query = "{ organizations(first: 1) { edges { node { ...P } } } } fragment P on Organization { projects(first: 1) { edges { node { id } } } }";
    let doc = async_graphql::parser::parse_query(query).unwrap();
    let error = check(&doc, &Variables::default(), &limits).unwrap_err();
    assert!(
        error.message.contains("(at `...P.projects.edges.node.id`)"),
        "{}",
        error.message
    );
}

#[test]
fn the_walk_visits_each_fragment_once() {
    // 30 fragments that each spread the next twice: 2^30 selections expanded, but
    // remembered by name, the walk is linear (and finishes at once).
    let mut query = String::from("{ ...F0 }");
    for i in 0..30 {
        query.push_str(&format!(
            " fragment F{i} on Query {{ ...F{n} ...F{n} }}",
            n = i + 1
        ));
    }
    query.push_str(" fragment F30 on Query { me { id } }");
    let figures = ours(&query, serde_json::json!({}));
    assert_eq!(figures.cost, 2u64.pow(30) * 2);
}

/// The model infers each field's rule from the schema (a `first` argument, or a list);
/// it knows the three forms of complexity the resolvers declare, and no other.
#[test]
fn every_declared_complexity_is_one_the_model_knows() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/graphql");
    let mut trees = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (_, rest) in text
            .match_indices("complexity = \"")
            .map(|(i, _)| ((), &text[i + 14..]))
        {
            let expression = &rest[..rest.find('"').unwrap()];
            match expression {
                "super::connection::cost(first, child_complexity)"
                | "super::connection::LIST_COST * child_complexity" => {}
                "super::connection::TREE_COST * child_complexity" => trees += 1,
                other => panic!("{}: the cost model does not know `{other}`", path.display()),
            }
        }
    }
    assert_eq!(
        trees,
        TREES.len(),
        "every TREE_COST field is listed in TREES"
    );
}
