//! Demo data: one organization with a user of every role, workspaces, projects (one
//! SECRET), slices, boxes and tasks, and a guest working on a single granted task.
//!
//! Idempotent: users are reused and get a fresh random password on every run (so no
//! password is ever written in the repository); the organization is created once.

use anyhow::{anyhow, Context};
use crust_api::{Config, Profile};
use crust_dal::projects::NewProject;
use crust_dal::tasks::{NewTask, TaskPatch};
use crust_dal::{
    orgs, projects, structure, tasks, users, workspaces, Actor, Operator, Page, PgConnection,
};
use crust_domain::{
    Classification, OrgId, OrgRole, ProjectId, ProjectRole, TaskAccess, TaskStatus, UserId,
    Visibility,
};

use super::user::generate_password;

#[derive(clap::Subcommand)]
pub enum SeedCommand {
    /// Create (or refresh) the demo organization and print its logins.
    Demo,
}

pub const DEMO_ORG: &str = "Acme (demo)";

/// (email, name, org role)
const DEMO_USERS: &[(&str, &str, OrgRole)] = &[
    (
        "olivia.owner@demo.crust.test",
        "Olivia Owner",
        OrgRole::Owner,
    ),
    ("adam.admin@demo.crust.test", "Adam Admin", OrgRole::Admin),
    (
        "maya.member@demo.crust.test",
        "Maya Member",
        OrgRole::Member,
    ),
    (
        "victor.viewer@demo.crust.test",
        "Victor Viewer",
        OrgRole::Member,
    ),
    ("gina.guest@demo.crust.test", "Gina Guest", OrgRole::Guest),
];

pub struct Login {
    pub email: &'static str,
    pub role: OrgRole,
    pub password: String,
}

pub fn run(cmd: SeedCommand) -> anyhow::Result<()> {
    let SeedCommand::Demo = cmd;
    let config = super::load_config()?;
    let mut conn = super::connect(&config)?;
    super::migrate(&mut conn)?;
    let logins = demo(&config, &mut conn)?;
    print_logins(&logins);
    Ok(())
}

pub fn print_logins(logins: &[Login]) {
    println!("Demo logins (organization \"{DEMO_ORG}\"; passwords are new on every run):");
    for l in logins {
        println!("  {:<8} {:<32} {}", l.role.as_str(), l.email, l.password);
    }
}

fn dal<T>(r: crust_dal::DalResult<T>, what: &str) -> anyhow::Result<T> {
    r.map_err(|e| anyhow!("{what}: {e}"))
}

pub fn demo(config: &Config, conn: &mut PgConnection) -> anyhow::Result<Vec<Login>> {
    if config.profile == Profile::Prod {
        anyhow::bail!("refusing to load demo data with the prod profile");
    }
    let hasher = config.auth.password_hasher().map_err(|e| anyhow!("{e}"))?;
    let mut logins = Vec::new();
    let mut ids = Vec::new();
    for (email, name, role) in DEMO_USERS {
        let password = generate_password()?;
        let hash = hasher.hash(&password).map_err(|e| anyhow!("{e}"))?;
        let id = match dal(
            users::id_by_email(&Operator::at_console(), conn, email),
            "look up user",
        )? {
            Some(id) => {
                dal(
                    users::reset_password_hash(&Operator::at_console(), conn, id, &hash),
                    "reset password",
                )?;
                id
            }
            None => UserId(
                dal(
                    users::create_verified(&Operator::at_console(), conn, email, name, &hash),
                    "create user",
                )?
                .id,
            ),
        };
        ids.push(id);
        logins.push(Login {
            email,
            role: *role,
            password,
        });
    }
    let owner = dal(
        Actor::for_operator(&Operator::at_console(), conn, ids[0]),
        "load owner",
    )?;
    let existing = dal(orgs::list(conn, &owner, Page::first(100)), "list orgs")?;
    if existing.items.iter().any(|o| o.name == DEMO_ORG) {
        return Ok(logins);
    }
    build_org(conn, owner, &ids).context("building the demo organization")?;
    Ok(logins)
}

fn build_org(conn: &mut PgConnection, owner: Actor, ids: &[UserId]) -> anyhow::Result<()> {
    let org = OrgId(dal(orgs::create(conn, &owner, DEMO_ORG), "create org")?.id);
    let owner = dal(
        Actor::for_operator(&Operator::at_console(), conn, owner.user_id()),
        "reload owner",
    )?;
    for ((_, _, role), user) in DEMO_USERS.iter().zip(ids).skip(1) {
        dal(
            orgs::add_member_as_operator(&Operator::at_console(), conn, org, *user, *role),
            "add member",
        )?;
    }
    let marketing = dal(
        workspaces::create(conn, &owner, org, "Marketing"),
        "workspace",
    )?;
    let engineering = dal(
        workspaces::create(conn, &owner, org, "Engineering"),
        "workspace",
    )?;
    let (maya, victor, gina) = (ids[2], ids[3], ids[4]);

    let website = project(
        conn,
        &owner,
        org,
        Some(marketing.id),
        "Website relaunch",
        Visibility::Organization,
        Classification::Confidential,
    )?;
    dal(
        projects::add_member(conn, &owner, website, maya, ProjectRole::Editor),
        "project member",
    )?;
    let plan = [
        (
            "Plan",
            vec![
                (
                    "Research",
                    vec!["Interview five customers", "Audit current analytics"],
                ),
                ("Scope", vec!["Write the brief", "Agree on budget"]),
            ],
        ),
        (
            "Build",
            vec![
                ("Design", vec!["Wireframes", "Visual design"]),
                (
                    "Content",
                    vec!["Review homepage copy", "Translate to German"],
                ),
            ],
        ),
        (
            "Close",
            vec![("Launch", vec!["Go-live checklist", "Announce the relaunch"])],
        ),
    ];
    let mut granted = None;
    for (si, (slice_name, boxes)) in plan.iter().enumerate() {
        let slice = dal(
            structure::create_slice(conn, &owner, website, slice_name),
            "slice",
        )?;
        for (box_name, titles) in boxes {
            let b = dal(
                structure::create_box(
                    conn,
                    &owner,
                    crust_domain::SliceId(slice.id),
                    box_name,
                    Default::default(),
                ),
                "box",
            )?;
            for (ti, title) in titles.iter().enumerate() {
                let t = task(
                    conn,
                    &owner,
                    website,
                    Some(b.id),
                    title,
                    Classification::Confidential,
                )?;
                let status = match (si, ti) {
                    (0, _) => Some(TaskStatus::Done),
                    (1, 0) => Some(TaskStatus::InProgress),
                    _ => None,
                };
                let patch = TaskPatch {
                    status,
                    progress: (status == Some(TaskStatus::InProgress)).then_some(40),
                    assignees: Some(vec![if ti == 0 { maya } else { owner.user_id() }]),
                    duration_days: Some(Some(2 + ti as i32)),
                    ..TaskPatch::default()
                };
                dal(
                    tasks::update(conn, &owner, crust_domain::TaskId(t), patch),
                    "task update",
                )?;
                if *title == "Review homepage copy" {
                    granted = Some(t);
                }
            }
        }
    }
    if let Some(t) = granted {
        dal(
            tasks::grant(
                conn,
                &owner,
                crust_domain::TaskId(t),
                gina,
                TaskAccess::Edit,
            ),
            "grant guest",
        )?;
    }
    task(
        conn,
        &owner,
        website,
        None,
        "Salary bands for the web team",
        Classification::Secret,
    )?;

    let app = project(
        conn,
        &owner,
        org,
        Some(engineering.id),
        "Mobile app",
        Visibility::Members,
        Classification::Confidential,
    )?;
    dal(
        projects::add_member(conn, &owner, app, maya, ProjectRole::Manager),
        "project member",
    )?;
    dal(
        projects::add_member(conn, &owner, app, victor, ProjectRole::Viewer),
        "project member",
    )?;
    let sprint = dal(
        structure::create_slice(conn, &owner, app, "Sprint board"),
        "slice",
    )?;
    for column in ["To do", "Doing", "Done"] {
        let b = dal(
            structure::create_box(
                conn,
                &owner,
                crust_domain::SliceId(sprint.id),
                column,
                if column == "Done" {
                    structure::BoxKind::DoneColumn
                } else {
                    structure::BoxKind::Column
                },
            ),
            "box",
        )?;
        if column == "To do" {
            for title in ["Login screen", "Offline mode", "Push notifications"] {
                task(
                    conn,
                    &owner,
                    app,
                    Some(b.id),
                    title,
                    Classification::Confidential,
                )?;
            }
        }
    }

    let secret = project(
        conn,
        &owner,
        org,
        None,
        "Acquisition Falcon",
        Visibility::Members,
        Classification::Secret,
    )?;
    let s = dal(
        structure::create_slice(conn, &owner, secret, "Due diligence"),
        "slice",
    )?;
    let b = dal(
        structure::create_box(
            conn,
            &owner,
            crust_domain::SliceId(s.id),
            "Legal",
            Default::default(),
        ),
        "box",
    )?;
    task(
        conn,
        &owner,
        secret,
        Some(b.id),
        "Review target's contracts",
        Classification::Confidential,
    )?;
    Ok(())
}

fn project(
    conn: &mut PgConnection,
    owner: &Actor,
    org: OrgId,
    workspace: Option<uuid::Uuid>,
    name: &str,
    visibility: Visibility,
    classification: Classification,
) -> anyhow::Result<ProjectId> {
    let new = NewProject {
        org,
        workspace: workspace.map(crust_domain::WorkspaceId),
        name: name.into(),
        description: Some(format!("**{name}** — demo project.")),
        visibility,
        classification,
        start_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 2),
        due_date: chrono::NaiveDate::from_ymd_opt(2027, 2, 26),
    };
    Ok(ProjectId(
        dal(projects::create(conn, owner, new), "create project")?.id,
    ))
}

fn task(
    conn: &mut PgConnection,
    owner: &Actor,
    project: ProjectId,
    box_id: Option<uuid::Uuid>,
    title: &str,
    classification: Classification,
) -> anyhow::Result<uuid::Uuid> {
    let new = NewTask {
        project,
        box_id: box_id.map(crust_domain::BoxId),
        title: title.into(),
        description: None,
        classification,
        start_date: None,
        due_date: None,
        duration_days: None,
    };
    Ok(dal(tasks::create(conn, owner, new), "create task")?.id)
}
