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
            doc: "Put the number of SQL statements each GraphQL request ran, the round trips they took and the hops to a pooled connection they were run in, in its response (`extensions.sqlStatements`, `extensions.sqlRoundTrips`, `extensions.sqlHops`), for tests and `crust bench`. **Refused in prod.**",
        },
        pub metrics_bind: Option<std::net::SocketAddr> {
            env: "CRUST_METRICS_BIND",
            default: Unset("off"),
            doc: "Serve `/metrics` (Prometheus/OpenMetrics text: GraphQL requests and latency by operation, pool use, database outages, rate-limit refusals, mail, audit appends) on this address only, e.g. `127.0.0.1:9464`; never on the API's own address. Keep it private: it has no authentication.",
        },
        pub test_hooks: bool {
            env: "CRUST_TEST_HOOKS",
            default: Is("false"),
            doc: "Test profile only: root fields aliased `crustTestPanic`, `crustTestStall` and `crustTestSlow` panic, block their thread, or answer after 2 s, so tests can show what these become.",
        },
    }
}
