//! Crust's domain: the rules of the product with no I/O.
//!
//! Owns identifiers, roles, the access decision ([`access::decide`]), input validation,
//! the password policy and Pie's rules: the schedule rule ([`schedule`]), progress
//! ([`task`], [`progress`]), dependencies and date shifts ([`dependency`], [`shift`]),
//! boards and sprints ([`board`], [`sprint`]) and recipes ([`recipe`]). It must not
//! depend on diesel, HTTP or any runtime: the DAL and API crates call into it, never
//! the other way round.

pub mod access;
pub mod audit;
pub mod board;
pub mod dependency;
pub mod ids;
pub mod mail;
pub mod ordering;
pub mod password;
pub mod progress;
pub mod recipe;
pub mod roles;
pub mod schedule;
pub mod shift;
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
