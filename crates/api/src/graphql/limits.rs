//! The alias limit (async-graphql has depth, complexity and directive limits built in,
//! configured in `build_schema`, but nothing for aliases): an operation may alias at
//! most `max` fields, counted through fragments, before anything runs.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensions, ServerError, ServerResult, Variables};

use crate::error::ApiError;

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
