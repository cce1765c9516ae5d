//! Answering a subtree whose every field is already at hand without a future per
//! field.
//!
//! async-graphql resolves each field of each object as a boxed future, joined per
//! object: for a page of 50 tasks with their assignees, dependencies and comments that
//! is thousands of futures, most of which return a column of a row already loaded.
//! A type that is [`Plain`] answers such fields directly; [`Plainly`] wraps a value so
//! that its whole subtree is answered that way when every selected field can be, and
//! by the engine, unchanged, otherwise (a field that needs the database, a directive,
//! a fragment on another type, a response key given twice). Either way the response is
//! the same; `plain::tests` and the e2e suite hold both to it.
//!
//! The walk reads the query's selection sets through async-graphql's context, the
//! same (hidden but public) API its derive macros generate code against; the version
//! is pinned in `Cargo.lock`, and a change there fails to compile rather than
//! behaving differently. It visits what the engine would visit, once, so it is bounded
//! by the same document checks.

use std::borrow::Cow;

use async_graphql::indexmap::map::Entry;
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
};

use super::connection::Conn;

/// A type whose fields can be answered from what the value holds.
pub trait Plain: OutputType {
    /// The field `name` (its context is `ctx`, for arguments and sub-selections), or
    /// `None` when it needs the engine.
    fn plain_field(&self, ctx: &Context<'_>, name: &str) -> Option<Value>;
}

/// The answer to `ctx`'s selection set on `this`, or `None` when some field needs
/// the engine.
pub fn object<T: Plain + ?Sized>(this: &T, ctx: &ContextSelectionSet<'_>) -> Option<Value> {
    // Fields answered here pass no extension's `resolve` hook: none of ours has one
    // (the auth gate and the audit are in the roots; the anonymous schema's extension
    // only validates), and `build_schema` must keep it so.
    let mut out = IndexMap::with_capacity(ctx.item.node.items.len());
    collect(this, &T::type_name(), ctx, &mut out)?;
    Some(Value::Object(out))
}

/// The answer to `ctx`'s sub-selection (for an object-valued field).
pub fn nested<T: Plain + ?Sized>(this: &T, ctx: &Context<'_>) -> Option<Value> {
    object(this, &ctx.with_selection_set(&ctx.item.node.selection_set))
}

/// A list of objects, each answered by [`nested`].
pub fn list<'a, T: Plain + 'a>(
    items: impl IntoIterator<Item = &'a T>,
    ctx: &Context<'_>,
) -> Option<Value> {
    let selection = ctx.with_selection_set(&ctx.item.node.selection_set);
    items
        .into_iter()
        .map(|item| object(item, &selection))
        .collect::<Option<Vec<_>>>()
        .map(Value::List)
}

fn collect<T: Plain + ?Sized>(
    this: &T,
    type_name: &str,
    ctx: &ContextSelectionSet<'_>,
    out: &mut IndexMap<Name, Value>,
) -> Option<()> {
    for selection in &ctx.item.node.items {
        // `@skip` and `@include` are gone before execution; any other directive is the
        // engine's to apply.
        if !selection.node.directives().is_empty() {
            return None;
        }
        match &selection.node {
            Selection::Field(field) => {
                // The engine merges a key given twice; leave that to it.
                let Entry::Vacant(slot) = out.entry(field.node.response_key().node.clone()) else {
                    return None;
                };
                slot.insert(answer(this, type_name, ctx, field)?);
            }
            Selection::FragmentSpread(spread) => {
                let fragment = ctx
                    .query_env
                    .fragments
                    .get(&spread.node.fragment_name.node)?;
                if fragment.node.type_condition.node.on.node != type_name {
                    return None;
                }
                collect(
                    this,
                    type_name,
                    &ctx.with_selection_set(&fragment.node.selection_set),
                    out,
                )?;
            }
            Selection::InlineFragment(inline) => {
                if let Some(on) = &inline.node.type_condition {
                    if on.node.on.node != type_name {
                        return None;
                    }
                }
                collect(
                    this,
                    type_name,
                    &ctx.with_selection_set(&inline.node.selection_set),
                    out,
                )?;
            }
        }
    }
    Some(())
}

fn answer<T: Plain + ?Sized>(
    this: &T,
    type_name: &str,
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> Option<Value> {
    let name = field.node.name.node.as_str();
    if name == "__typename" {
        return Some(Value::String(type_name.to_owned()));
    }
    this.plain_field(&ctx.with_field(field), name)
}

/// `value`, answered without a future per field when it is [`Plain`] for the query,
/// by the engine otherwise. It is `T` in the schema.
pub struct Plainly<T>(pub T);

impl<T: Plain + Sync> OutputType for Plainly<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        match object(&self.0, ctx) {
            Some(value) => Ok(value),
            None => self.0.resolve(ctx, field).await,
        }
    }
}

/// A page of plain nodes: its `totalCount` and `nodes` (edges and page info are the
/// engine's).
impl<N> Plain for Conn<N>
where
    N: Plain + Sync,
{
    fn plain_field(&self, ctx: &Context<'_>, name: &str) -> Option<Value> {
        match name {
            "totalCount" => Some(Value::from(self.additional_fields.total_count)),
            "nodes" => list(self.edges.iter().map(|e| &e.node), ctx),
            _ => None,
        }
    }
}
