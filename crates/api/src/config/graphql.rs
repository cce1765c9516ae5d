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
        pub ws_max_connections_per_user: usize {
            env: "CRUST_WS_MAX_CONNECTIONS_PER_USER",
            default: Is("8"),
            range: 1..=1000,
            doc: "Live connections (`/graphql/ws`) one user may hold open in one server process; one more is closed with 4429.",
        },
        pub ws_max_subscriptions: usize {
            env: "CRUST_WS_MAX_SUBSCRIPTIONS",
            default: Is("20"),
            range: 1..=1000,
            doc: "Subscriptions one live connection may hold; one more is answered with an `error` message.",
        },
        pub ws_max_message_bytes: usize {
            env: "CRUST_WS_MAX_MESSAGE_BYTES",
            default: Is("65536"),
            range: 1024..=1_048_576,
            doc: "Largest message a client may send on a live connection; a larger one closes it with 1009.",
        },
        pub ws_messages_per_second: usize {
            env: "CRUST_WS_MESSAGES_PER_SECOND",
            default: Is("20"),
            range: 1..=10_000,
            doc: "Messages a client may send on a live connection per second; more close it with 4429.",
        },
        pub ws_recheck_ms: u64 {
            env: "CRUST_WS_RECHECK_MS",
            default: Is("2000"),
            range: 100..=60_000,
            doc: "How often a live connection's session is checked again: within this time of a logout, a deactivation or the access token's expiry the socket closes with 4403. A check the database cannot answer is tried again; after 15 times this without an answer the socket closes with 1013 (try again later).",
        },
        pub trusted_documents: Option<std::path::PathBuf> {
            env: "CRUST_TRUSTED_DOCUMENTS",
            default: Unset("none"),
            doc: "A manifest of trusted documents (persisted operations), in Apollo's format (`generate-persisted-query-manifest`) or GraphQL Code Generator's (`persistedDocuments: true`). Requests may then name a document by `extensions.persistedQuery.sha256Hash` instead of sending its text. Every hash is checked against its text at start.",
        },
        pub trusted_documents_only: bool {
            env: "CRUST_TRUSTED_DOCUMENTS_ONLY",
            default: Is("false"),
            doc: "Signed-in callers may run only the documents of `CRUST_TRUSTED_DOCUMENTS` (by hash, or by a text whose hash is listed); any other document is refused (FORBIDDEN) before it is validated, over HTTP and over `/graphql/ws`. Anonymous callers, who may only sign in, are unaffected. Turn it on in prod when every client is an app built with the manifest.",
        },
    }
}
