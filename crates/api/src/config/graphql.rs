//! GraphQL limits: what a single request may ask for.

use super::setting::settings;

settings! {
    /// What a single GraphQL request may ask for. async-graphql enforces none of these
    /// by default; each is checked before any resolver runs.
    #[derive(PartialEq, Eq)]
    pub struct GraphqlLimits {
        pub max_depth: usize {
            env: "CRUST_GRAPHQL_MAX_DEPTH",
            default: Is("15"),
            range: 2..=64,
            doc: "Deepest selection nesting a query may have.",
        },
        pub max_complexity: usize {
            env: "CRUST_GRAPHQL_MAX_COMPLEXITY",
            default: Is("2000000"),
            range: 100..=100_000_000,
            doc: "Cost ceiling: every field costs 1 plus its children, a list costs its page size (`first`, default 50) times its children, an unpaginated list (assignees, dependencies, grants) 10 times. A board of 20 slices × 20 boxes × 50 tasks with assignees, dependencies and three comments each costs about 1.2 million.",
        },
        pub max_aliases: usize {
            env: "CRUST_GRAPHQL_MAX_ALIASES",
            default: Is("15"),
            range: ..=1000,
            doc: "Aliased fields per operation (graphql-armor's default), counted through fragments.",
        },
        pub max_directives: usize {
            env: "CRUST_GRAPHQL_MAX_DIRECTIVES",
            default: Is("3"),
            range: 1..=50,
            doc: "Directives on one field.",
        },
        pub max_query_chars: usize {
            env: "CRUST_GRAPHQL_MAX_QUERY_CHARS",
            default: Is("15000"),
            range: 100..=1_000_000,
            doc: "Characters of query text (413 beyond).",
        },
        pub max_selections: usize {
            env: "CRUST_GRAPHQL_MAX_SELECTIONS",
            default: Is("5000"),
            range: 10..=100_000,
            doc: "Fields, fragment spreads and inline fragments one operation (or one fragment) may select once every fragment spread is expanded; counted in one linear pass before anything else reads the query, so a \"fragment bomb\" is refused at once.",
        },
        pub max_batch: usize {
            env: "CRUST_GRAPHQL_MAX_BATCH",
            default: Is("1"),
            range: 1..=10,
            doc: "Operations per request; 1 turns batching off (a JSON array is then refused).",
        },
        pub concurrency: usize {
            env: "CRUST_GRAPHQL_CONCURRENCY",
            default: IsNoted("0", "four per core"),
            range: 0..=4096,
            doc: "Operations that execute at once; the others wait their turn, within the request deadline. This bounds the memory a burst of large queries holds (a 600-task tree holds about 10 MiB while it is built). Four per core keep the cores busy while each operation waits on the database, so the bound costs no throughput (`crust bench`). Sign-in and password operations do not wait here; the password-hashing pool bounds them. 0: four per core.",
        },
        pub introspection: bool {
            env: "CRUST_INTROSPECTION",
            default: OutsideProd("true", "false"),
            doc: "Schema introspection for signed-in callers. **Refused in prod**, where \"did you mean\" suggestions are off too.",
        },
    }
}
