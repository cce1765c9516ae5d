//! Diagnostics: how logs look, and the developer aids the prod profile refuses.

use super::setting::settings;
use super::{LogFormat, Profile};

settings! {
    /// Logs, and what helps developers and tests see inside the server.
    pub struct Diagnostics {
        pub log_format: LogFormat {
            env: "CRUST_LOG_FORMAT",
            default: OutsideProd("text", "json"),
            doc: "Log lines as text or JSON. `RUST_LOG` filters them (default `info`).",
        },
        pub graphiql: bool {
            env: "CRUST_GRAPHIQL",
            default: FromProfile(|p| (p == Profile::Dev).to_string(), "`true` in dev only"),
            doc: "Serve GraphiQL on `/graphiql`. **Refused in prod.**",
        },
        pub report_sql_statements: bool {
            env: "CRUST_REPORT_SQL_STATEMENTS",
            default: Is("false"),
            doc: "Put the number of SQL statements each GraphQL request ran in its response (`extensions.sqlStatements`), for tests and `crust bench`. **Refused in prod.**",
        },
        pub test_hooks: bool {
            env: "CRUST_TEST_HOOKS",
            default: Is("false"),
            doc: "Test profile only: a root field aliased `crustTestPanic` panics, so tests can show what a panic becomes.",
        },
    }
}
