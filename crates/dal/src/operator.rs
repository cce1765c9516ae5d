//! The operator at the console: proof that a call comes from the `crust` command line,
//! which functions acting on the whole server (every tenant) require.
//!
//! Rust cannot restrict a constructor to one crate, so the proof is made by
//! [`Operator::at_console`], which exists only with this crate's `operator` feature.
//! Only the CLI and the test harness enable it, and the architecture test fails if the
//! API crate enables it or names `Operator` at all (in a workspace build the feature is
//! on for every crate, so the test is the wall there; `cargo check -p crust-api` alone
//! would not even find the constructor).

/// Held by the CLI for the length of one command.
#[derive(Debug)]
pub struct Operator {
    _private: (),
}

impl Operator {
    /// The proof for a command run by an operator (CLI, test harness).
    #[cfg(feature = "operator")]
    pub fn at_console() -> Operator {
        Operator { _private: () }
    }
}
