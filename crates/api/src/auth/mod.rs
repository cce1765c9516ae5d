//! Authentication: password hashing, access and refresh tokens, and the sign-in flows
//! built on them. Authorization (what a signed-in user may do) lives in the domain and
//! DAL crates, not here.

pub mod password;
pub mod service;
pub mod throttle;
pub mod tokens;

pub use service::{AuthError, AuthService, Principal, SignedIn};
