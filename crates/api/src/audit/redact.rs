//! Redaction of what a request sent, over the GraphQL syntax tree.

use crust_domain::audit::redact;
use serde_json::Value;

/// The request's variables, for the record of an operation refused before it ran.
/// Their names are the client's choice, so a value is redacted when its variable's
/// name, or any argument or input field it is passed to, names a secret (and, inside,
/// under any secret key); when the document cannot be read, every value is.
pub fn redact_request_variables(query: &str, variables: Value) -> Value {
    let Value::Object(vars) = variables else {
        return redact(variables);
    };
    let passed_as_secret = async_graphql::parser::parse_query(query)
        .ok()
        .map(|doc| secret_variables(&doc));
    Value::Object(
        vars.into_iter()
            .map(|(name, value)| {
                let hide = passed_as_secret
                    .as_ref()
                    .is_none_or(|secret| secret.contains(&name))
                    || crust_domain::audit::is_secret_key(&name);
                let value = if hide {
                    Value::String(crust_domain::audit::REDACTED.into())
                } else {
                    redact(value)
                };
                (name, value)
            })
            .collect(),
    )
}

/// The variables a document passes to a secret-named argument or input field.
fn secret_variables(
    doc: &async_graphql::parser::types::ExecutableDocument,
) -> std::collections::HashSet<String> {
    use async_graphql::parser::types::{Directive, Selection, SelectionSet};
    use async_graphql::Positioned;
    use async_graphql_value::Value as Ast;
    use crust_domain::audit::is_secret_key;

    fn value(v: &Ast, secret: bool, out: &mut std::collections::HashSet<String>) {
        match v {
            Ast::Variable(name) if secret => {
                out.insert(name.to_string());
            }
            Ast::List(items) => items.iter().for_each(|i| value(i, secret, out)),
            Ast::Object(fields) => fields
                .iter()
                .for_each(|(k, v)| value(v, secret || is_secret_key(k), out)),
            _ => {}
        }
    }
    fn directives(ds: &[Positioned<Directive>], out: &mut std::collections::HashSet<String>) {
        for d in ds {
            for (name, v) in &d.node.arguments {
                value(&v.node, is_secret_key(&name.node), out);
            }
        }
    }
    fn set(s: &SelectionSet, out: &mut std::collections::HashSet<String>) {
        for item in &s.items {
            match &item.node {
                Selection::Field(f) => {
                    for (name, v) in &f.node.arguments {
                        value(&v.node, is_secret_key(&name.node), out);
                    }
                    directives(&f.node.directives, out);
                    set(&f.node.selection_set.node, out);
                }
                Selection::InlineFragment(i) => set(&i.node.selection_set.node, out),
                // Fragments are walked once each, below.
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut out = std::collections::HashSet::new();
    for (_, op) in doc.operations.iter() {
        directives(&op.node.directives, &mut out);
        set(&op.node.selection_set.node, &mut out);
    }
    for fragment in doc.fragments.values() {
        set(&fragment.node.selection_set.node, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variables_passed_to_secret_arguments_are_redacted_whatever_their_name() {
        let query = "mutation($e: String!, $p: String!, $deep: String, $t: String) { \
            login(input: {email: $e, password: $p}) { x } \
            ...F other(input: {list: [{clientSecret: $deep}]}) }
            fragment F on Mutation { refreshSession(input: {refreshToken: $t}) { x } }";
        let vars = json!({ "e": "a@example.test", "p": "hunter2", "deep": "s3", "t": "tok", "unused": {"apiToken": "x", "keep": 1} });
        let out = redact_request_variables(query, vars);
        assert_eq!(
            out,
            json!({ "e": "a@example.test", "p": "[REDACTED]", "deep": "[REDACTED]", "t": "[REDACTED]", "unused": {"apiToken": "[REDACTED]", "keep": 1} })
        );
        // A document that does not parse: no value is kept.
        let out = redact_request_variables("mutation { oops(", json!({ "p": "hunter2" }));
        assert_eq!(out, json!({ "p": "[REDACTED]" }));
    }
}
