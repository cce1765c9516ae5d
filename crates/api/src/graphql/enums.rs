//! The enumerations the schema shares across areas, mirrored from the domain crate.

use async_graphql::Enum;

macro_rules! remote_enum {
    ($(#[$doc:meta])* $name:ident => $remote:literal { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
        #[graphql(remote = $remote)]
        pub enum $name { $($variant),+ }
    };
}

remote_enum!(
    /// A member's role in an organization.
    OrgRole => "crust_domain::OrgRole" { Guest, Member, Admin, Owner }
);
remote_enum!(
    /// A member's role in a project.
    ProjectRole => "crust_domain::ProjectRole" { Viewer, Editor, Manager }
);
remote_enum!(
    /// What a task grant allows: VIEW reads, EDIT also changes status and progress.
    TaskAccess => "crust_domain::TaskAccess" { View, Edit }
);
remote_enum!(
    /// Who may read a project: the whole organization, or its members only.
    Visibility => "crust_domain::Visibility" { Organization, Members }
);
remote_enum!(
    /// CONFIDENTIAL (default) or SECRET: need-to-know, visible only to its access list.
    Classification => "crust_domain::Classification" { Confidential, Secret }
);
remote_enum!(
    ProjectStatus => "crust_domain::ProjectStatus" { Active, OnHold, Completed, Archived }
);
remote_enum!(
    TaskStatus => "crust_domain::TaskStatus" { NotStarted, InProgress, Done, NotNeeded }
);
remote_enum!(
    /// FINISH_TO_START (default): start after the other finishes; START_TO_START: start
    /// after the other starts; FINISH_TO_FINISH: finish after the other finishes.
    DependencyType => "crust_domain::roles::DependencyKind" { FinishToStart, StartToStart, FinishToFinish }
);
