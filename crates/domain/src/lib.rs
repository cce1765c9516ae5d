//! Crust's domain: the rules of the product with no I/O.
//!
//! Owns identifiers, roles, the access decision ([`access::decide`]), input validation
//! and the password policy. It must not depend on diesel, HTTP or any runtime: the DAL
//! and API crates call into it, never the other way round.

pub mod access;
pub mod audit;
pub mod dependency;
pub mod ids;
pub mod ordering;
pub mod password;
pub mod progress;
pub mod roles;
pub mod sprint;
pub mod task;
pub mod validate;

pub use access::{decide, Action, Decision, Object, OrgFacts, ProjectFacts, TaskFacts};
pub use ids::{
    BoxId, CommentId, OrgId, ProjectId, RecipeId, SessionId, SliceId, TaskId, UserId, WorkspaceId,
};
pub use roles::{
    Classification, OrgRole, ProjectRole, ProjectStatus, TaskAccess, TaskStatus, Visibility,
};
