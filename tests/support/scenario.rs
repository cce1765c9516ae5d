//! Worlds tests start from, built step by step through the GraphQL API, so a test
//! reads as its scenario:
//!
//! ```text
//! let w = Scenario::new(&app).await          // an owner and their organization
//!     .with_member("admin", "ADMIN").await
//!     .with_project("MEMBERS", "CONFIDENTIAL").await
//!     .with_project_member("viewer", "VIEWER").await
//!     .with_task("CONFIDENTIAL").await;
//! app.ok(w.user("admin"), …, json!({ "t": w.task_id() }))
//! ```

use std::collections::HashMap;

use crate::{Session, TestApp};

pub struct Scenario<'a> {
    pub app: &'a TestApp,
    pub owner: Session,
    pub org: String,
    users: HashMap<String, Session>,
    project: Option<String>,
    slice: Option<String>,
    box_id: Option<String>,
    tasks: Vec<String>,
}

impl<'a> Scenario<'a> {
    /// A user "owner" and the organization they own.
    pub async fn new(app: &'a TestApp) -> Scenario<'a> {
        let owner = app.user("owner").await;
        let org = app.create_org(&owner, "Scenario").await;
        Scenario {
            app,
            owner,
            org,
            users: HashMap::new(),
            project: None,
            slice: None,
            box_id: None,
            tasks: Vec::new(),
        }
    }

    /// A new user `name`, a member of the organization with `role`.
    pub async fn with_member(mut self, name: &str, role: &str) -> Self {
        let user = self.app.user(name).await;
        self.app
            .add_org_member(&self.owner, &self.org, &user, role)
            .await;
        self.users.insert(name.to_owned(), user);
        self
    }

    /// A project of the organization, with a slice "S" and a box "B" in it.
    pub async fn with_project(mut self, visibility: &str, classification: &str) -> Self {
        let app = self.app;
        let project = app
            .create_project(&self.owner, &self.org, visibility, classification)
            .await;
        let slice = app.create_slice(&self.owner, &project, "S").await;
        self.box_id = Some(app.create_box(&self.owner, &slice, "B").await);
        self.slice = Some(slice);
        self.project = Some(project);
        self
    }

    /// A new user `name`, an organization MEMBER with `role` on the project.
    pub async fn with_project_member(self, name: &str, role: &str) -> Self {
        let mut s = self.with_member(name, "MEMBER").await;
        let user = s.user(name).clone();
        s.app
            .add_project_member(&s.owner, s.project(), &user, role)
            .await;
        s.users.insert(name.to_owned(), user);
        s
    }

    /// A task in the project's box.
    pub async fn with_task(mut self, classification: &str) -> Self {
        let task = self
            .app
            .create_task(
                &self.owner,
                self.project(),
                Some(self.box_id()),
                classification,
            )
            .await;
        self.tasks.push(task);
        self
    }

    pub fn user(&self, name: &str) -> &Session {
        self.users
            .get(name)
            .unwrap_or_else(|| panic!("the scenario has no user {name}"))
    }

    pub fn project(&self) -> &str {
        self.project.as_deref().expect("the scenario has a project")
    }

    pub fn slice(&self) -> &str {
        self.slice.as_deref().expect("the scenario has a project")
    }

    pub fn box_id(&self) -> &str {
        self.box_id.as_deref().expect("the scenario has a project")
    }

    /// The first task made.
    pub fn task_id(&self) -> &str {
        self.tasks.first().expect("the scenario has a task")
    }

    /// Every task made, in order.
    pub fn task_ids(&self) -> &[String] {
        &self.tasks
    }
}
