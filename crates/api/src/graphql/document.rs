//! What a GraphQL document may be, checked before anything else looks at it — before
//! authentication, before async-graphql's own validation (whose depth, directive and
//! complexity walks expand every fragment spread afresh and so take time exponential
//! in the text: 31 fragments that each spread the next twice make 2^30 selections).
//!
//! Every check here is linear in the length of the text, and they run cheapest first:
//! 1. bracket nesting, by a scan of the raw text (the parser recurses on nesting);
//! 2. parsing;
//! 3. one walk from the operations in which each fragment's body is summed once
//!    (memoized), refusing fragment cycles, fragments no operation uses (GraphQL
//!    refuses them anyway; refused here, nothing walks them), operations whose
//!    selections together — every spread expanded — hold more than `max_selections`
//!    fields, spreads and inline fragments (async-graphql walks every operation of a
//!    document, not only the selected one), more than `max_aliases` aliases in one
//!    operation, more than `max_directives` directives in one place or
//!    [`MAX_ARGUMENTS`] arguments on one field or directive (async-graphql compares
//!    arguments pairwise), and more uses of variables than the variables' size allows
//!    (async-graphql copies a variable's value at every use: see
//!    [`MAX_VARIABLE_COPY_BYTES`]);
//! 4. only then, the expansion itself — now bounded by `max_selections` — to count how
//!    often one response key repeats once GraphQL has merged what it merges, and to
//!    read the root fields (through fragments) that the rate limits look at.
//!
//! Afterwards async-graphql walks a document whose expansion is bounded, so its own
//! walks are bounded too.
//!
//! Over 400 lines on purpose: the checks share one memoized walk and its counters; the
//! tests live in `document/tests.rs`.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet,
};

use crate::config::GraphqlLimits;
use crate::error::ApiError;

/// How often one response key may appear in a selection set once fragments are
/// expanded and merged (merging through a few fragments is normal; hundreds is the
/// "duplicated fields" attack).
pub const MAX_FIELD_REPEATS: usize = 10;

/// Bracket nesting (`{`, `[`, `(`) the text may have. A legitimate query stays far below
/// it (its selection depth is capped lower still); the parser recurses once per level.
pub const MAX_NESTING: usize = 64;

/// Arguments one field or directive may take (the schema's fields take a handful).
pub const MAX_ARGUMENTS: usize = 32;

/// Bytes of variables async-graphql may copy while validating one request: the
/// variables' size times the number of places (every fragment expanded) they are used.
/// A 1 MiB variable used once is fine; used at 1,200 directives it stalled a worker.
pub const MAX_VARIABLE_COPY_BYTES: u64 = 2 * 1024 * 1024;

/// A document that passed every check, ready for async-graphql.
#[derive(Debug)]
pub struct Checked {
    pub doc: ExecutableDocument,
    /// The root fields of every operation in the document, found through fragments.
    pub root_fields: Vec<String>,
    /// Whether the operation the request selects (or, with no usable selection, any
    /// operation of the document) may change something.
    pub mutation: bool,
    /// Whether some response key occurs more than once in a merged selection set (the
    /// engine then merges the answers' objects; see `graphql::plain::Spliced`).
    pub merges: bool,
}

/// What the checks say about a request's text.
#[derive(Debug)]
pub enum Verdict {
    Checked(Box<Checked>),
    /// Not a syntactically valid document: async-graphql reports the syntax error
    /// (the text's nesting is bounded, so re-parsing it is cheap).
    Unparsable,
}

/// Work done by a check, in items visited: the tests hold it to a multiple of the text.
#[derive(Debug, Default, Clone, Copy)]
pub struct Work(pub u64);

fn refuse(message: String) -> ApiError {
    ApiError::BadUserInput(message)
}

/// What is checked: a request's text, the operation it selects and the size of its
/// variables (as JSON).
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub query: &'a str,
    pub operation_name: Option<&'a str>,
    pub variables_bytes: usize,
}

impl<'a> Input<'a> {
    /// A text alone, selecting nothing by name and sending no variables.
    pub fn text(query: &'a str) -> Self {
        Input {
            query,
            operation_name: None,
            variables_bytes: 0,
        }
    }
}

/// Runs every check on a request, selecting its operation as async-graphql will.
pub fn check(input: Input<'_>, limits: &GraphqlLimits) -> Result<Verdict, ApiError> {
    check_counting(input, limits, &mut Work::default())
}

/// [`check`], adding the items it visits to `work`.
pub fn check_counting(
    input: Input<'_>,
    limits: &GraphqlLimits,
    work: &mut Work,
) -> Result<Verdict, ApiError> {
    let Input {
        query,
        operation_name,
        variables_bytes,
    } = input;
    let nesting = nesting(query, work);
    if nesting > MAX_NESTING {
        return Err(refuse(format!(
            "the query nests brackets {nesting} deep; at most {MAX_NESTING} levels are accepted: select less deeply, and pass nested input as variables"
        )));
    }
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        return Ok(Verdict::Unparsable);
    };
    let mut sizes = Sizes::new(&doc, limits.max_directives);
    let (mut total, mut uses) = (0u64, 0u64);
    for (_, op) in doc.operations.iter() {
        let mut size = sizes.set(&op.node.selection_set.node, 0)?;
        size.add(sizes.directives(&op.node.directives)?);
        for var in &op.node.variable_definitions {
            size.add(sizes.directives(&var.node.directives)?);
        }
        total = total.saturating_add(size.selections);
        uses = uses.saturating_add(size.variable_uses);
        if total > limits.max_selections as u64 {
            return Err(too_many_selections(total, limits));
        }
        if size.aliases > limits.max_aliases as u64 {
            return Err(refuse(format!(
                "the query uses {} aliases; at most {} are allowed in one operation: ask for each field once (aliases are for one field with different arguments), or send the rest in another request",
                size.aliases, limits.max_aliases
            )));
        }
    }
    let mut unused: Vec<&str> = doc
        .fragments
        .keys()
        .map(|n| n.as_str())
        .filter(|n| !sizes.memo.contains_key(n))
        .collect();
    if !unused.is_empty() {
        unused.sort_unstable();
        return Err(refuse(format!(
            "fragment {} is never used; send only the fragments the operations spread",
            unused.join(", ")
        )));
    }
    // Fragment definitions' own directives (each definition is validated once).
    for fragment in doc.fragments.values() {
        let own = sizes.directives(&fragment.node.directives)?;
        uses = uses.saturating_add(own.variable_uses);
    }
    let copies = uses.saturating_mul(variables_bytes as u64);
    if copies > MAX_VARIABLE_COPY_BYTES {
        return Err(refuse(format!(
            "the query uses its variables in {uses} places; with {variables_bytes} bytes of variables that is too much to check: send smaller variables or use them in fewer places"
        )));
    }
    work.0 += sizes.work;

    // The expansion is bounded now: walking it is cheap.
    let mut expand = Expand { doc: &doc, work };
    let mut worst = (0, String::new());
    let mut root_fields: Vec<String> = Vec::new();
    // Names already listed (a set: a document may name thousands of root fields).
    let mut listed: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for (_, op) in doc.operations.iter() {
        let root = [&op.node.selection_set.node];
        expand.repeats(&root, &mut worst);
        for field in expand.collect(&root).fields {
            let name = field.name.node.as_str();
            if listed.insert(name) {
                root_fields.push(name.to_owned());
            }
        }
    }
    if worst.0 > MAX_FIELD_REPEATS {
        return Err(refuse(format!(
            "the field `{}` is repeated {} times in one selection (counting fragments); at most {MAX_FIELD_REPEATS} are allowed: select it once (repeats of one field are merged anyway)",
            worst.1, worst.0
        )));
    }
    let mutation = selects_mutation(&doc, operation_name);
    Ok(Verdict::Checked(Box::new(Checked {
        doc,
        root_fields,
        mutation,
        merges: worst.0 > 1,
    })))
}

fn too_many_selections(n: u64, limits: &GraphqlLimits) -> ApiError {
    refuse(format!(
        "the query selects {n} fields once its fragments are expanded; at most {} are allowed: select fewer fields, or split the query into several requests",
        limits.max_selections
    ))
}

/// The deepest bracket nesting of the text, skipping strings and comments.
fn nesting(text: &str, work: &mut Work) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    // A block string escapes only its closing quotes.
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    work.0 += bytes.len() as u64;
    deepest
}

/// Selections, aliases and uses of variables under a selection set, every spread
/// expanded (saturating).
#[derive(Clone, Copy, Default)]
struct Size {
    selections: u64,
    aliases: u64,
    variable_uses: u64,
}

impl Size {
    fn add(&mut self, other: Size) {
        self.selections = self.selections.saturating_add(other.selections);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.variable_uses = self.variable_uses.saturating_add(other.variable_uses);
    }
}

/// How often variables are used in an argument value (linear in the value's text).
fn variable_uses(value: &async_graphql_value::Value, work: &mut u64) -> u64 {
    use async_graphql_value::Value;
    *work += 1;
    match value {
        Value::Variable(_) => 1,
        Value::List(items) => items.iter().map(|v| variable_uses(v, work)).sum(),
        Value::Object(fields) => fields.values().map(|v| variable_uses(v, work)).sum(),
        _ => 0,
    }
}

enum Memo {
    Visiting,
    Done(Size),
}

/// Sums each fragment's expansion once, however often it is spread.
struct Sizes<'a> {
    doc: &'a ExecutableDocument,
    memo: HashMap<&'a str, Memo>,
    max_directives: usize,
    work: u64,
}

impl<'a> Sizes<'a> {
    fn new(doc: &'a ExecutableDocument, max_directives: usize) -> Self {
        Sizes {
            doc,
            memo: HashMap::with_capacity(doc.fragments.len()),
            max_directives,
            work: 0,
        }
    }

    /// One field's or directive's arguments: their count is bounded, their variables
    /// counted.
    fn arguments(
        &mut self,
        arguments: &[(
            async_graphql::Positioned<async_graphql::Name>,
            async_graphql::Positioned<async_graphql_value::Value>,
        )],
        what: &str,
    ) -> Result<u64, ApiError> {
        if arguments.len() > MAX_ARGUMENTS {
            return Err(refuse(format!(
                "{what} takes {} arguments; at most {MAX_ARGUMENTS} are accepted: send only the arguments the field declares (schema.graphql lists them)",
                arguments.len()
            )));
        }
        let mut uses = 0u64;
        for (_, value) in arguments {
            uses = uses.saturating_add(variable_uses(&value.node, &mut self.work));
        }
        Ok(uses)
    }

    /// The directives of one place: at most `max_directives` of them (anywhere, not only
    /// on fields), their arguments bounded and their variables counted.
    fn directives(
        &mut self,
        directives: &[async_graphql::Positioned<async_graphql::parser::types::Directive>],
    ) -> Result<Size, ApiError> {
        if directives.len() > self.max_directives {
            return Err(refuse(format!(
                "{} directives stand in one place; at most {} are allowed: put at most that many @include/@skip on one field or fragment",
                directives.len(),
                self.max_directives
            )));
        }
        let mut size = Size::default();
        for d in directives {
            let name = format!("directive @{}", d.node.name.node);
            size.variable_uses = size
                .variable_uses
                .saturating_add(self.arguments(&d.node.arguments, &name)?);
        }
        Ok(size)
    }

    fn fragment(&mut self, name: &'a str, depth: usize) -> Result<Size, ApiError> {
        match self.memo.get(name) {
            Some(Memo::Done(size)) => return Ok(*size),
            Some(Memo::Visiting) => {
                return Err(refuse(format!(
                    "fragment {name} spreads itself (directly or through other fragments); a fragment cannot contain itself: select the nested levels explicitly"
                )))
            }
            None => {}
        }
        // An unknown fragment adds nothing; validation names it.
        let Some((key, fragment)) = self.doc.fragments.get_key_value(name) else {
            return Ok(Size::default());
        };
        let name = key.as_str();
        self.memo.insert(name, Memo::Visiting);
        let size = self.set(&fragment.node.selection_set.node, depth)?;
        self.memo.insert(name, Memo::Done(size));
        Ok(size)
    }

    fn set(&mut self, set: &'a SelectionSet, depth: usize) -> Result<Size, ApiError> {
        // Fragments spreading fragments nest without brackets; bound the recursion.
        if depth > MAX_NESTING {
            return Err(refuse(format!(
                "the query nests selections and fragments more than {MAX_NESTING} levels deep: select less deeply"
            )));
        }
        let mut size = Size::default();
        for item in &set.items {
            self.work += 1;
            size.selections = size.selections.saturating_add(1);
            match &item.node {
                Selection::Field(f) => {
                    size.aliases += u64::from(f.node.alias.is_some());
                    let what = format!("field `{}`", f.node.name.node);
                    size.variable_uses = size
                        .variable_uses
                        .saturating_add(self.arguments(&f.node.arguments, &what)?);
                    size.add(self.directives(&f.node.directives)?);
                    size.add(self.set(&f.node.selection_set.node, depth + 1)?);
                }
                Selection::InlineFragment(f) => {
                    size.add(self.directives(&f.node.directives)?);
                    size.add(self.set(&f.node.selection_set.node, depth + 1)?)
                }
                Selection::FragmentSpread(spread) => {
                    size.add(self.directives(&spread.node.directives)?);
                    size.add(self.fragment(spread.node.fragment_name.node.as_str(), depth + 1)?)
                }
            }
        }
        Ok(size)
    }
}

/// Walks the expansion (only once its size is known to be bounded).
struct Expand<'a, 'w> {
    doc: &'a ExecutableDocument,
    work: &'w mut Work,
}

/// The fields of merged selection sets, in order.
struct Collected<'a> {
    fields: Vec<&'a Field>,
}

impl<'a> Expand<'a, '_> {
    /// The fields of `sets` with inline fragments and spreads flattened, as GraphQL
    /// collects them before merging.
    fn collect(&mut self, sets: &[&'a SelectionSet]) -> Collected<'a> {
        let mut out = Collected { fields: Vec::new() };
        let mut stack: Vec<&'a SelectionSet> = sets.iter().rev().copied().collect();
        while let Some(set) = stack.pop() {
            self.work.0 += set.items.len() as u64;
            for item in set.items.iter().rev() {
                match &item.node {
                    Selection::Field(f) => out.fields.push(&f.node),
                    Selection::InlineFragment(f) => stack.push(&f.node.selection_set.node),
                    Selection::FragmentSpread(spread) => {
                        if let Some(fragment) =
                            self.doc.fragments.get(&spread.node.fragment_name.node)
                        {
                            stack.push(&fragment.node.selection_set.node);
                        }
                    }
                }
            }
        }
        out.fields.reverse();
        out
    }

    /// The most times one response key occurs in a merged selection set, anywhere
    /// below `sets` (fields of one key merge, and so do their sub-selections).
    fn repeats(&mut self, sets: &[&'a SelectionSet], worst: &mut (usize, String)) {
        let collected = self.collect(sets);
        let mut groups: Vec<(&str, Vec<&'a SelectionSet>)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for field in collected.fields {
            let key = field.alias.as_ref().unwrap_or(&field.name).node.as_str();
            let at = *index.entry(key).or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len() - 1
            });
            groups[at].1.push(&field.selection_set.node);
        }
        for (key, children) in &groups {
            if children.len() > worst.0 {
                *worst = (children.len(), (*key).to_owned());
            }
            let nested: Vec<&SelectionSet> = children
                .iter()
                .copied()
                .filter(|c| !c.items.is_empty())
                .collect();
            if !nested.is_empty() {
                self.repeats(&nested, worst);
            }
        }
    }
}

/// The root fields (through fragments) of the operation a request selects, in order;
/// none when it selects none. Call it on a checked document only (its expansion is
/// bounded).
pub fn selected_root_fields<'a>(
    doc: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Vec<&'a Field> {
    let Some(op) = selected(doc, operation_name) else {
        return Vec::new();
    };
    let mut work = Work::default();
    let mut expand = Expand {
        doc,
        work: &mut work,
    };
    expand.collect(&[&op.selection_set.node]).fields
}

/// The operation a request selects, as async-graphql will pick it.
fn selected<'a>(
    doc: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Does the request select an operation that may change something? With no usable
/// selection (async-graphql will refuse it), any such operation counts.
fn selects_mutation(doc: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    match selected(doc, operation_name) {
        Some(op) => op.ty != OperationType::Query,
        None => doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty != OperationType::Query),
    }
}

#[cfg(test)]
pub(crate) mod tests;
