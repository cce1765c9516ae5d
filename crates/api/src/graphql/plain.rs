//! Answering a subtree whose every field is already at hand without a future per
//! field, and without building its answer as a tree of values.
//!
//! async-graphql resolves each field of each object as a boxed future, joined per
//! object, into a `Value` tree that is then serialized and dropped: for a page of 50
//! tasks with their assignees, dependencies and comments that is thousands of
//! futures, maps and strings, most of them a column of a row already loaded. A type
//! that is [`Plain`] writes such fields' JSON directly; [`Plainly`] wraps a value so
//! that its whole subtree is answered that way when every selected field can be, and
//! by the engine, unchanged, otherwise (a field that needs the database, a directive,
//! a fragment on another type, a response key given twice). Either way the response is
//! the same; `plain::tests` and the e2e suite hold both to it.
//!
//! The JSON written goes into the response as it is (see [`Spliced`] and
//! [`write_value`]) when the request comes over HTTP, whose answers are written by
//! [`write_value`], and its document repeats no response key; any other request (one
//! whose answers the engine merges, the live socket, in-process tests) gets it read
//! back into a `Value`.
//!
//! The walk reads the query's selection sets through async-graphql's context, the
//! same (hidden but public) API its derive macros generate code against; the version
//! is pinned in `Cargo.lock`, and a change there fails to compile rather than
//! behaving differently. It visits what the engine would visit, once, so it is bounded
//! by the same document checks.

use std::borrow::Cow;
use std::sync::OnceLock;

use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::EnumType;
use async_graphql::{Context, ContextSelectionSet, OutputType, Positioned, ServerResult, Value};
use bytes::Bytes;
use crust_dal::Page;
use foldhash::{HashMap, HashSet, HashSetExt};
use serde::Serialize;

use super::connection::Conn;

/// A type whose fields can be answered from what the value holds.
pub trait Plain {
    /// The type's name in the schema, which fragments' type conditions name.
    fn plain_type_name(&self) -> Cow<'static, str>;

    /// Writes the field `name`'s value (its context is `ctx`, for arguments and
    /// sub-selections) to `out`, or returns `None` when it needs the engine.
    fn plain_field(&self, ctx: &Context<'_>, name: &str, out: &mut Out) -> Option<()>;
}

/// Request data saying that the request's answers are written by [`write_value`], so
/// that a plain answer may go into them as the JSON it was written as. Only for a
/// document in which no response key repeats: the engine merges the answers of one key
/// when both are objects, and would keep only one of two spliced answers.
pub struct Spliced;

/// The JSON of a plain answer, written as the engine's `Value` would serialize.
pub struct Out {
    /// The JSON, after the splice tag when the answer is to be spliced.
    buf: Vec<u8>,
    tagged: bool,
    /// The selection sets (by address in the document) whose response keys were found
    /// unique: a page's objects share one, checked once.
    unique: HashSet<usize>,
    /// The page each paged field (by address in the document) asks for, read once.
    pages: HashMap<usize, Option<Page>>,
}

impl Out {
    /// Room for a small page's answer; a larger one grows (and is trimmed, see
    /// [`into_value`]).
    const FIRST_CAPACITY: usize = 1024;

    /// An empty answer; `spliced` when it goes into the response as written (see
    /// [`Spliced`]): the tag goes first then, so that the JSON is never copied to add it.
    fn new(spliced: bool) -> Self {
        let mut buf = Vec::with_capacity(Self::FIRST_CAPACITY);
        let tag = splice_tag().filter(|_| spliced);
        if let Some(tag) = tag {
            buf.extend_from_slice(tag);
        }
        Out {
            buf,
            tagged: tag.is_some(),
            unique: HashSet::new(),
            pages: HashMap::default(),
        }
    }

    /// Any serializable leaf, as serde_json writes it (the engine's serializer).
    pub fn value<V: Serialize + ?Sized>(&mut self, v: &V) -> Option<()> {
        serde_json::to_writer(&mut self.buf, v).ok()
    }

    /// A scalar written through its GraphQL value (dates and times: their format is
    /// async-graphql's).
    pub fn scalar<V: OutputType + async_graphql::InputType>(&mut self, v: &V) -> Option<()> {
        self.value(&async_graphql::InputType::to_value(v))
    }

    /// An enum value, by its name in the schema.
    pub fn enumeration<E: EnumType>(&mut self, e: E) -> Option<()> {
        let item = E::items().iter().find(|item| item.value == e)?;
        self.value(item.name)
    }

    /// The object `this`, answering `ctx`'s sub-selection (for an object-valued field).
    pub fn nested<T: Plain + ?Sized>(&mut self, this: &T, ctx: &Context<'_>) -> Option<()> {
        object(
            this,
            &ctx.with_selection_set(&ctx.item.node.selection_set),
            self,
        )
    }

    /// A list of objects, each answering `ctx`'s sub-selection.
    pub fn list<'a, T: Plain + 'a>(
        &mut self,
        items: impl IntoIterator<Item = &'a T>,
        ctx: &Context<'_>,
    ) -> Option<()> {
        let selection = ctx.with_selection_set(&ctx.item.node.selection_set);
        self.buf.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            object(item, &selection, self)?;
        }
        self.buf.push(b']');
        Some(())
    }

    /// The page the paged field of `ctx` asks for (`read` reads it from the field's
    /// arguments): read once per field of the document, not once per object.
    pub fn page_of(
        &mut self,
        ctx: &Context<'_>,
        read: impl FnOnce() -> Option<Page>,
    ) -> Option<Page> {
        let at = std::ptr::from_ref(ctx.item) as usize;
        *self.pages.entry(at).or_insert_with(read)
    }

    /// Whether the response keys of `set` (fragments expanded) are all different,
    /// found once per selection set: the engine merges a key given twice, and that is
    /// left to it.
    fn keys_unique(&mut self, ctx: &ContextSelectionSet<'_>) -> Option<()> {
        let at = std::ptr::from_ref(ctx.item) as usize;
        if self.unique.contains(&at) {
            return Some(());
        }
        let mut keys = HashSet::new();
        gather_keys(ctx, &ctx.item.node, &mut keys)?;
        self.unique.insert(at);
        Some(())
    }
}

fn gather_keys<'a>(
    ctx: &ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    keys: &mut HashSet<&'a str>,
) -> Option<()> {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                if !keys.insert(field.node.response_key().node.as_str()) {
                    return None;
                }
            }
            Selection::FragmentSpread(spread) => {
                let fragment = ctx
                    .query_env
                    .fragments
                    .get(&spread.node.fragment_name.node)?;
                gather_keys(ctx, &fragment.node.selection_set.node, keys)?;
            }
            Selection::InlineFragment(inline) => {
                gather_keys(ctx, &inline.node.selection_set.node, keys)?;
            }
        }
    }
    Some(())
}

/// Writes the answer to `ctx`'s selection set on `this`, or returns `None` when some
/// field needs the engine (what was written is then to be thrown away).
pub fn object<T: Plain + ?Sized>(
    this: &T,
    ctx: &ContextSelectionSet<'_>,
    out: &mut Out,
) -> Option<()> {
    // Fields answered here pass no extension's `resolve` hook: none of ours has one
    // (the auth gate and the audit are in the roots; the anonymous schema's extension
    // only validates), and `build_schema` must keep it so.
    out.keys_unique(ctx)?;
    out.buf.push(b'{');
    let mut first = true;
    fields(this, &this.plain_type_name(), ctx, out, &mut first)?;
    out.buf.push(b'}');
    Some(())
}

fn fields<T: Plain + ?Sized>(
    this: &T,
    type_name: &str,
    ctx: &ContextSelectionSet<'_>,
    out: &mut Out,
    first: &mut bool,
) -> Option<()> {
    for selection in &ctx.item.node.items {
        // `@skip` and `@include` are gone before execution; any other directive is the
        // engine's to apply.
        if !selection.node.directives().is_empty() {
            return None;
        }
        match &selection.node {
            Selection::Field(field) => {
                if !std::mem::take(first) {
                    out.buf.push(b',');
                }
                out.value(field.node.response_key().node.as_str())?;
                out.buf.push(b':');
                answer(this, type_name, ctx, field, out)?;
            }
            Selection::FragmentSpread(spread) => {
                let fragment = ctx
                    .query_env
                    .fragments
                    .get(&spread.node.fragment_name.node)?;
                if fragment.node.type_condition.node.on.node != type_name {
                    return None;
                }
                let inner = ctx.with_selection_set(&fragment.node.selection_set);
                fields(this, type_name, &inner, out, first)?;
            }
            Selection::InlineFragment(inline) => {
                if let Some(on) = &inline.node.type_condition {
                    if on.node.on.node != type_name {
                        return None;
                    }
                }
                let inner = ctx.with_selection_set(&inline.node.selection_set);
                fields(this, type_name, &inner, out, first)?;
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
    out: &mut Out,
) -> Option<()> {
    let name = field.node.name.node.as_str();
    if name == "__typename" {
        return out.value(type_name);
    }
    this.plain_field(&ctx.with_field(field), name, out)
}

/// The tag that starts a spliced answer's bytes: random per process, so that no other
/// binary value could ever be taken for JSON to write as it is. (No field of the schema
/// returns binary values; this keeps it so should one ever do.) Without the OS
/// generator, nothing is spliced.
fn splice_tag() -> Option<&'static [u8; 16]> {
    static TAG: OnceLock<Option<[u8; 16]>> = OnceLock::new();
    TAG.get_or_init(|| {
        let mut tag = [0u8; 16];
        getrandom::fill(&mut tag).ok().map(|()| tag)
    })
    .as_ref()
}

/// The answer as a `Value`: the JSON itself, tagged, for [`write_value`] to write;
/// otherwise read back.
fn into_value(mut out: Out) -> ServerResult<Value> {
    if out.tagged {
        // The answer is held until the response is written: no more than a quarter of
        // it unused.
        if out.buf.capacity() > out.buf.len() + out.buf.len() / 4 {
            out.buf.shrink_to_fit();
        }
        return Ok(Value::Binary(Bytes::from(out.buf)));
    }
    // Read as `Value` directly: objects keep their keys' order (serde_json's own map
    // would sort them).
    serde_json::from_slice::<Value>(&out.buf)
        .map_err(|e| async_graphql::ServerError::new(e.to_string(), None))
}

/// How many bytes of `value` are plain answers to splice (a walk over the levels above
/// them: each is one node).
pub fn spliced_len(value: &Value) -> usize {
    match value {
        Value::Binary(bytes) => bytes.len(),
        Value::List(items) => items.iter().map(spliced_len).sum(),
        Value::Object(map) => map.values().map(spliced_len).sum(),
        _ => 0,
    }
}

/// Writes `value` as JSON, exactly as its `Serialize` does, except that a plain answer
/// (see [`Spliced`]) goes in as the JSON it already is.
pub fn write_value(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    match value {
        Value::Binary(bytes) => match splice_tag().and_then(|tag| bytes.strip_prefix(tag)) {
            Some(json) => out.extend_from_slice(json),
            None => serde_json::to_writer(&mut *out, value)?,
        },
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key.as_str())?;
                out.push(b':');
                write_value(out, item)?;
            }
            out.push(b'}');
        }
        leaf => serde_json::to_writer(&mut *out, leaf)?,
    }
    Ok(())
}

/// `value`, answered without a future per field when it is [`Plain`] for the query,
/// by the engine otherwise. It is `T` in the schema.
pub struct Plainly<T>(pub T);

impl<T: Plain + OutputType + Sync> OutputType for Plainly<T> {
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
        let mut out = Out::new(ctx.data_opt::<Spliced>().is_some());
        match object(&self.0, ctx, &mut out) {
            Some(()) => into_value(out),
            None => self.0.resolve(ctx, field).await,
        }
    }
}

/// A page of plain nodes: its `totalCount` and `nodes` (edges and page info are the
/// engine's).
impl<N> Plain for Conn<N>
where
    N: Plain + OutputType + Sync,
{
    fn plain_type_name(&self) -> Cow<'static, str> {
        <Self as OutputType>::type_name()
    }

    fn plain_field(&self, ctx: &Context<'_>, name: &str, out: &mut Out) -> Option<()> {
        match name {
            "totalCount" => out.value(&self.additional_fields.total_count),
            "nodes" => out.list(self.edges.iter().map(|e| &e.node), ctx),
            _ => None,
        }
    }
}

/// A page held by reference, answering as the connection named `type_name` would:
/// its `totalCount` and `nodes`.
pub struct PageOf<'a, N> {
    pub type_name: &'static str,
    pub items: &'a [N],
    pub total: i64,
}

impl<N: Plain> Plain for PageOf<'_, N> {
    fn plain_type_name(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.type_name)
    }

    fn plain_field(&self, ctx: &Context<'_>, name: &str, out: &mut Out) -> Option<()> {
        match name {
            "totalCount" => out.value(&self.total),
            "nodes" => out.list(self.items, ctx),
            _ => None,
        }
    }
}

/// `T`'s name in the schema, made once (a connection's is formatted on every call).
pub fn name_of<T: OutputType>(cell: &'static OnceLock<String>) -> &'static str {
    cell.get_or_init(|| T::type_name().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_serde_writes_them_and_only_tagged_binary_is_spliced() {
        let value = async_graphql::value!({
            "a": [1, -2, 3.5, null, true, "x\"y\n\u{2028}é"],
            "b": { "c": {}, "d": [] },
        });
        let mut written = Vec::new();
        write_value(&mut written, &value).unwrap();
        assert_eq!(written, serde_json::to_vec(&value).unwrap());

        // A binary value without the tag is never taken for JSON.
        let forged = Value::Binary(Bytes::from_static(b"1,\"injected\":true"));
        let mut written = Vec::new();
        write_value(&mut written, &forged).unwrap();
        assert_eq!(written, serde_json::to_vec(&forged).unwrap());
        assert!(!String::from_utf8_lossy(&written).contains("injected"));

        // A tagged one is, and read back when not spliced.
        let answer = |spliced: bool| {
            let mut out = Out::new(spliced);
            out.buf.extend_from_slice(br#"{"k":["v"]}"#);
            into_value(out).unwrap()
        };
        let spliced = answer(true);
        let mut written = Vec::new();
        write_value(&mut written, &async_graphql::value!({ "x": spliced })).unwrap();
        assert_eq!(written, br#"{"x":{"k":["v"]}}"#);
        assert_eq!(answer(false), async_graphql::value!({ "k": ["v"] }));

        // Read back, keys keep the order they were written in.
        let mut out = Out::new(false);
        out.buf.extend_from_slice(br#"{"z":1,"a":{"y":2,"b":3}}"#);
        let Value::Object(read) = into_value(out).unwrap() else {
            panic!("not an object");
        };
        assert_eq!(
            read.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["z", "a"]
        );
        let Some(Value::Object(inner)) = read.get("a") else {
            panic!("not an object");
        };
        assert_eq!(
            inner.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["y", "b"]
        );
    }
}
