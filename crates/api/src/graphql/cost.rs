//! What a document costs and how deep it nests, with the explanation a refusal gives:
//! the cost and the ceiling, the lists that cost most, and how to bound them.
//!
//! The figures are async-graphql's own (`limit_complexity`, `limit_depth`), computed
//! the same way so that a refusal can say *why*: every field costs 1 plus its
//! children; a paginated list costs its page (`first`, else the default page) times
//! what each item asks for, plus 1; an unpaginated list [`LIST_COST`] (a recipe's
//! whole structure [`TREE_COST`]) times its items' cost; every operation of the
//! document counts, fragments expanded. A test holds the two computations equal
//! (`cost_is_what_async_graphql_computes`); async-graphql's limits stay on behind this.
//!
//! The walk visits each fragment's body once (its figures are remembered by name), so
//! it is linear in the text.
//!
//! [`LIST_COST`]: super::connection::LIST_COST
//! [`TREE_COST`]: super::connection::TREE_COST

use std::collections::HashMap;
use std::sync::OnceLock;

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::registry::{MetaType, Registry};
use async_graphql::{Name, OutputType, ServerError, Value, Variables};
use async_graphql_value::{ConstValue, Value as Written};

use super::connection::{DEFAULT_PAGE, LIST_COST, MAX_PAGE, TREE_COST};
use crate::config::GraphqlLimits;

/// How a field's cost is computed from what each of its items costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// 1 + children.
    Plain,
    /// page × children + 1, the page being `first` or the default.
    Page,
    /// n × children (an unpaginated list of an assumed size).
    List(u64),
}

#[derive(Debug)]
struct FieldCost {
    /// The named type of the field's value.
    ty: String,
    rule: Rule,
}

/// The rules of every object type's fields, read from the schema's types once.
#[derive(Debug, Default)]
pub struct CostModel {
    types: HashMap<String, HashMap<String, FieldCost>>,
    query: String,
    mutation: String,
}

/// Fields whose complexity is `TREE_COST × children` rather than `LIST_COST × children`.
const TREES: [(&str, &str); 1] = [("Recipe", "slices")];

fn named(ty: &str) -> &str {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

impl CostModel {
    /// The model of Crust's schema.
    pub fn get() -> &'static CostModel {
        static MODEL: OnceLock<CostModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            let mut registry = Registry::default();
            let query = <super::Root<super::Query> as OutputType>::create_type_info(&mut registry);
            let mutation =
                <super::Root<super::Mutation> as OutputType>::create_type_info(&mut registry);
            CostModel::of(&registry, query, mutation)
        })
    }

    fn of(registry: &Registry, query: String, mutation: String) -> CostModel {
        let mut types = HashMap::new();
        for (name, ty) in &registry.types {
            let MetaType::Object { fields, .. } = ty else {
                continue;
            };
            let fields = fields
                .iter()
                .map(|(field, meta)| {
                    let rule = match &meta.compute_complexity {
                        None => Rule::Plain,
                        Some(_) if meta.args.contains_key("first") => Rule::Page,
                        Some(_) if TREES.contains(&(name.as_str(), field.as_str())) => {
                            Rule::List(TREE_COST as u64)
                        }
                        Some(_) => Rule::List(LIST_COST as u64),
                    };
                    let ty = named(&meta.ty).to_owned();
                    (field.clone(), FieldCost { ty, rule })
                })
                .collect();
            types.insert(name.clone(), fields);
        }
        CostModel {
            types,
            query: named(&query).to_owned(),
            mutation: named(&mutation).to_owned(),
        }
    }
}

/// A list of the document and what it costs with everything it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Costly {
    /// Response keys from the operation (or from `...Fragment`) to the list.
    pub path: String,
    pub cost: u64,
    /// The page assumed (`first`, or the default page when `first` is not given),
    /// or the assumed size of an unpaginated list.
    pub items: u64,
    pub paginated: bool,
    pub first_given: bool,
}

/// A document's figures.
#[derive(Debug, Default)]
pub struct Figures {
    pub cost: u64,
    pub depth: usize,
    /// Where the deepest field is.
    pub deepest: String,
    /// The costliest lists, costliest first (at most [`LISTED`]).
    pub costliest: Vec<Costly>,
}

/// How many lists a refusal names.
pub const LISTED: usize = 5;

/// (cost, depth, path of the deepest field below) of a fragment's body.
type Remembered = (u64, usize, String);

struct Walk<'a> {
    model: &'a CostModel,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    /// Default values of the current operation's variables.
    defaults: HashMap<&'a str, &'a ConstValue>,
    fragments: HashMap<&'a str, Remembered>,
    costliest: Vec<Costly>,
}

/// Computes a document's cost and depth.
pub fn figures(doc: &ExecutableDocument, variables: &Variables) -> Figures {
    let model = CostModel::get();
    let mut walk = Walk {
        model,
        doc,
        variables,
        defaults: HashMap::new(),
        fragments: HashMap::new(),
        costliest: Vec::new(),
    };
    let mut figures = Figures::default();
    for (_, op) in doc.operations.iter() {
        walk.defaults = op
            .node
            .variable_definitions
            .iter()
            .filter_map(|v| {
                let default = v.node.default_value.as_ref()?;
                Some((v.node.name.node.as_str(), &default.node))
            })
            .collect();
        // Fragment figures depend on the operation's variable defaults.
        walk.fragments.clear();
        let root = match op.node.ty {
            OperationType::Query => model.query.as_str(),
            OperationType::Mutation => model.mutation.as_str(),
            OperationType::Subscription => "",
        };
        let (cost, depth, deepest) = walk.set(&op.node.selection_set.node, Some(root), "");
        figures.cost = figures.cost.saturating_add(cost);
        if depth > figures.depth {
            figures.depth = depth;
            figures.deepest = deepest;
        }
    }
    walk.costliest.sort_by_key(|l| std::cmp::Reverse(l.cost));
    walk.costliest.dedup();
    walk.costliest.truncate(LISTED);
    figures.costliest = walk.costliest;
    figures
}

impl<'a> Walk<'a> {
    /// (cost, depth, path of the deepest field) of a selection set on type `parent`.
    fn set(&mut self, set: &'a SelectionSet, parent: Option<&str>, prefix: &str) -> Remembered {
        let mut cost = 0u64;
        let mut deepest = (0usize, String::new());
        for selection in &set.items {
            let (c, depth, path) = match &selection.node {
                // async-graphql's walk passes `__typename` by: it costs nothing.
                Selection::Field(field) if field.node.name.node == "__typename" => {
                    (0, 0, String::new())
                }
                Selection::Field(field) => self.field(&field.node, parent, prefix),
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    self.fragment(name)
                }
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map(|t| t.node.on.node.as_str())
                        .or(parent);
                    self.set(&inline.node.selection_set.node, on, prefix)
                }
            };
            cost = cost.saturating_add(c);
            if depth > deepest.0 {
                deepest = (depth, path);
            }
        }
        (cost, deepest.0, deepest.1)
    }

    fn fragment(&mut self, name: &'a str) -> Remembered {
        if let Some(known) = self.fragments.get(name) {
            return known.clone();
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            return (0, 0, String::new());
        };
        // A cycle is refused before this walk; the placeholder only ends recursion.
        self.fragments.insert(name, (0, 0, String::new()));
        let on = fragment.node.type_condition.node.on.node.as_str();
        let figures = self.set(
            &fragment.node.selection_set.node,
            Some(on),
            &format!("...{name}"),
        );
        self.fragments.insert(name, figures.clone());
        figures
    }

    fn field(
        &mut self,
        field: &'a async_graphql::parser::types::Field,
        parent: Option<&str>,
        prefix: &str,
    ) -> Remembered {
        let key = field.response_key().node.as_str();
        let path = if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        };
        let meta = parent
            .and_then(|p| self.model.types.get(p))
            .and_then(|fields| fields.get(field.name.node.as_str()));
        let child_type = meta.map(|m| m.ty.clone());
        let (children, depth, deepest) =
            self.set(&field.selection_set.node, child_type.as_deref(), &path);
        let deepest = if depth == 0 { path.clone() } else { deepest };
        let rule = meta.map_or(Rule::Plain, |m| m.rule);
        let (cost, items, first_given) = match rule {
            Rule::Plain => (children.saturating_add(1), 0, false),
            Rule::Page => {
                let first = self.first(field);
                let page = first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as u64;
                (
                    page.saturating_mul(children).saturating_add(1),
                    page,
                    first.is_some(),
                )
            }
            Rule::List(n) => (n.saturating_mul(children), n, false),
        };
        if rule != Rule::Plain {
            self.costliest.push(Costly {
                path,
                cost,
                items,
                paginated: rule == Rule::Page,
                first_given,
            });
            // Keeps the list short however many lists the document has.
            if self.costliest.len() > 4 * LISTED {
                self.costliest.sort_by_key(|l| std::cmp::Reverse(l.cost));
                self.costliest.truncate(LISTED);
            }
        }
        (cost, depth + 1, deepest)
    }

    /// The `first` argument's value, as async-graphql reads it (a variable's value, or
    /// its default).
    fn first(&self, field: &async_graphql::parser::types::Field) -> Option<i32> {
        let (_, value) = field.arguments.iter().find(|(n, _)| n.node == "first")?;
        let number = match &value.node {
            Written::Variable(name) => match self.variables.get(name) {
                Some(v) => v.clone(),
                None => (*self.defaults.get(name.as_str())?).clone(),
            },
            other => other.clone().into_const()?,
        };
        match number {
            ConstValue::Number(n) => n.as_i64().map(|n| n.clamp(0, i64::from(i32::MAX)) as i32),
            _ => None,
        }
    }
}

/// Refuses a document whose cost or depth is beyond the limits, saying what to change:
/// the message for people, and the figures in `extensions` for programs (`cost`,
/// `ceiling` and `costliest`, or `depth`, `maxDepth` and `at`).
pub fn check(
    doc: &ExecutableDocument,
    variables: &Variables,
    limits: &GraphqlLimits,
) -> Result<(), ServerError> {
    let figures = figures(doc, variables);
    if figures.depth > limits.max_depth {
        let message = format!(
            "the query nests fields {} deep (at `{}`); at most {} levels are accepted: ask for the deeper data in a second query, starting from the object you reach there",
            figures.depth, figures.deepest, limits.max_depth
        );
        return Err(refusal(
            message,
            [
                ("depth", Value::from(figures.depth as u64)),
                ("maxDepth", Value::from(limits.max_depth as u64)),
                ("at", Value::from(figures.deepest.as_str())),
            ],
        ));
    }
    if figures.cost > limits.max_complexity as u64 {
        let costliest = figures
            .costliest
            .iter()
            .map(|l| {
                let mut item = async_graphql::indexmap::IndexMap::new();
                item.insert(Name::new("path"), Value::from(l.path.as_str()));
                item.insert(Name::new("cost"), Value::from(l.cost));
                item.insert(Name::new("items"), Value::from(l.items));
                item.insert(Name::new("paginated"), Value::from(l.paginated));
                item.insert(Name::new("firstGiven"), Value::from(l.first_given));
                Value::Object(item)
            })
            .collect::<Vec<_>>();
        return Err(refusal(
            too_costly(&figures, limits),
            [
                ("cost", Value::from(figures.cost)),
                ("ceiling", Value::from(limits.max_complexity as u64)),
                ("costliest", Value::List(costliest)),
            ],
        ));
    }
    Ok(())
}

fn refusal<const N: usize>(message: String, figures: [(&str, Value); N]) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", "BAD_USER_INPUT");
    for (key, value) in figures {
        extensions.set(key, value);
    }
    error.extensions = Some(extensions);
    error
}

fn too_costly(figures: &Figures, limits: &GraphqlLimits) -> String {
    let lists: Vec<String> = figures
        .costliest
        .iter()
        .map(|l| {
            let size = match (l.paginated, l.first_given) {
                (true, true) => format!("first: {}", l.items),
                (true, false) => format!("no `first:`, so {} items assumed", l.items),
                (false, _) => format!("unpaginated, {} items assumed", l.items),
            };
            format!("`{}` {} ({size})", l.path, thousands(l.cost))
        })
        .collect();
    format!(
        "the query costs {}, more than this server's ceiling of {}. A list costs its page size times what each item asks for, so nested lists multiply. Costliest lists: {}. Ask for fewer items with `first:` on the outer lists (e.g. `first: 10`), fewer nested lists, or fetch the inner lists for one item at a time",
        thousands(figures.cost),
        thousands(limits.max_complexity as u64),
        lists.join("; ")
    )
}

/// 1234567 as 1,234,567.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests;
