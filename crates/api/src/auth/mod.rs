//! Authentication: access and refresh tokens, and the sign-in flows. The password
//! hasher and the proofs it makes live in the DAL; authorization (what a signed-in
//! user may do) lives in the domain and DAL crates.

pub mod email_flows;
pub mod hash_worker;
pub mod hashing;
pub mod service;
pub mod throttle;
pub mod tokens;

pub use email_flows::Joined;
pub use service::{AuthError, AuthService, Principal, SignedIn};
