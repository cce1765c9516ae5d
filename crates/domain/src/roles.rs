//! Roles and enumerations. Roles are declared in privilege order and derive `Ord`, so
//! `role >= ProjectRole::Editor` reads as it means.

use std::fmt;
use std::str::FromStr;

/// Returned when a stored or supplied enum value is not one we know.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown {kind} value")]
pub struct UnknownValue {
    pub kind: &'static str,
}

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration (privilege) order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as stored in the database and shown in the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { kind: $kind }),
                }
            }
        }
    };
}

string_enum!(
    /// A member's role in an organization, least privileged first.
    OrgRole, "organization role" {
        Guest => "GUEST",
        Member => "MEMBER",
        Admin => "ADMIN",
        Owner => "OWNER",
    }
);

string_enum!(
    /// A member's role in a project, least privileged first.
    ProjectRole, "project role" {
        Viewer => "VIEWER",
        Editor => "EDITOR",
        Manager => "MANAGER",
    }
);

string_enum!(
    /// What a task grant allows, least privileged first.
    TaskAccess, "task access" {
        View => "VIEW",
        Edit => "EDIT",
    }
);

string_enum!(
    /// Who may read a (non-SECRET) project.
    Visibility, "visibility" {
        Organization => "ORGANIZATION",
        Members => "MEMBERS",
    }
);

string_enum!(
    /// CONFIDENTIAL is the default; SECRET means need-to-know (only the access list sees it).
    Classification, "classification" {
        Confidential => "CONFIDENTIAL",
        Secret => "SECRET",
    }
);

string_enum!(
    /// Lifecycle of a project.
    ProjectStatus, "project status" {
        Active => "ACTIVE",
        OnHold => "ON_HOLD",
        Completed => "COMPLETED",
        Archived => "ARCHIVED",
    }
);

string_enum!(
    /// Lifecycle of a task.
    TaskStatus, "task status" {
        NotStarted => "NOT_STARTED",
        InProgress => "IN_PROGRESS",
        Done => "DONE",
        NotNeeded => "NOT_NEEDED",
    }
);

string_enum!(
    /// How a task depends on another: it may start once the other finished (the
    /// default), once the other started, or finish once the other finished.
    DependencyKind, "dependency type" {
        FinishToStart => "FINISH_TO_START",
        StartToStart => "START_TO_START",
        FinishToFinish => "FINISH_TO_FINISH",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_privilege() {
        assert!(OrgRole::Owner > OrgRole::Admin);
        assert!(OrgRole::Admin > OrgRole::Member);
        assert!(OrgRole::Member > OrgRole::Guest);
        assert!(ProjectRole::Manager > ProjectRole::Editor);
        assert!(ProjectRole::Editor > ProjectRole::Viewer);
        assert!(TaskAccess::Edit > TaskAccess::View);
    }

    #[test]
    fn text_round_trips() {
        for r in OrgRole::ALL {
            assert_eq!(r.as_str().parse::<OrgRole>(), Ok(*r));
        }
        for s in TaskStatus::ALL {
            assert_eq!(s.as_str().parse::<TaskStatus>(), Ok(*s));
        }
        assert!("owner".parse::<OrgRole>().is_err());
    }
}
