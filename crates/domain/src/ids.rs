//! Typed identifiers: one newtype per table so a `ProjectId` can never be passed where a
//! `TaskId` is expected. All ids are random (v4) UUIDs.

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    )*};
}

id_type!(
    /// A user account.
    UserId,
    /// An organization (the tenant).
    OrgId,
    /// A workspace inside an organization.
    WorkspaceId,
    /// A project.
    ProjectId,
    /// A slice (phase) of a project.
    SliceId,
    /// A box (group or board column) inside a slice.
    BoxId,
    /// A task.
    TaskId,
    /// A login session (refresh-token family).
    SessionId,
    /// A comment on a task.
    CommentId,
    /// A recipe (project template).
    RecipeId,
);
