//! Document limits async-graphql lacks (it has depth, complexity and directive limits,
//! configured in `build_schema`): an operation may alias at most `max` fields, counted
//! through fragments, and a selection set may not repeat one field more than
//! [`MAX_FIELD_REPEATS`] times (the "500 duplicated fields" attack). Checked right after
//! parsing, before anything runs.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensions, ServerError, ServerResult, Variables};

use crate::error::ApiError;

/// How often one response key may appear in a selection set (merging through a few
/// fragments is normal; hundreds is an attack).
pub const MAX_FIELD_REPEATS: usize = 10;

pub struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension(self.0))
    }
}

struct AliasLimitExtension(usize);

fn count(doc: &ExecutableDocument, set: &SelectionSet, visiting: &mut HashSet<String>) -> usize {
    let mut n = 0;
    for item in &set.items {
        n += match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some())
                    + count(doc, &f.node.selection_set.node, visiting)
            }
            Selection::InlineFragment(f) => count(doc, &f.node.selection_set.node, visiting),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.to_string();
                // A fragment cycle is invalid anyway; do not follow one.
                match doc.fragments.get(&spread.node.fragment_name.node) {
                    Some(fragment) if visiting.insert(name.clone()) => {
                        let inner = count(doc, &fragment.node.selection_set.node, visiting);
                        visiting.remove(&name);
                        inner
                    }
                    _ => 0,
                }
            }
        };
    }
    n
}

/// The most times any selection set of the document repeats one field.
pub fn repeats(doc: &ExecutableDocument) -> usize {
    fn walk(set: &SelectionSet, worst: &mut usize) {
        let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let key = f.node.alias.as_ref().unwrap_or(&f.node.name).node.as_str();
                    let n = seen.entry(key).or_default();
                    *n += 1;
                    *worst = (*worst).max(*n);
                    walk(&f.node.selection_set.node, worst);
                }
                Selection::InlineFragment(f) => walk(&f.node.selection_set.node, worst),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut worst = 0;
    for (_, op) in doc.operations.iter() {
        walk(&op.node.selection_set.node, &mut worst);
    }
    for fragment in doc.fragments.values() {
        walk(&fragment.node.selection_set.node, &mut worst);
    }
    worst
}

/// The most aliases any one operation of the document uses.
pub fn aliases(doc: &ExecutableDocument) -> usize {
    doc.operations
        .iter()
        .map(|(_, op)| count(doc, &op.node.selection_set.node, &mut HashSet::new()))
        .max()
        .unwrap_or(0)
}

#[async_graphql::async_trait::async_trait]
impl Extension for AliasLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let used = aliases(&doc);
        if used > self.0 {
            let e = ApiError::BadUserInput(format!(
                "the query uses {used} aliases; at most {} are allowed",
                self.0
            ));
            return Err(ServerError::new(e.message(), None).with_extensions(e));
        }
        let repeated = repeats(&doc);
        if repeated > MAX_FIELD_REPEATS {
            let e = ApiError::BadUserInput(format!(
                "a field is repeated {repeated} times in one selection; at most {MAX_FIELD_REPEATS} are allowed"
            ));
            return Err(ServerError::new(e.message(), None).with_extensions(e));
        }
        Ok(doc)
    }
}

trait WithExtensions {
    fn with_extensions(self, e: ApiError) -> ServerError;
}

impl WithExtensions for ServerError {
    fn with_extensions(mut self, e: ApiError) -> ServerError {
        self.extensions = e.extend().extensions;
        self
    }
}
