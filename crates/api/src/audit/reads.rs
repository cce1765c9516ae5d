//! What a request served that is need-to-know, recorded as `read` events once its
//! response is ready.

// foldhash's hasher: a project read notes a thousand tasks.
use foldhash::HashMap;

use crust_dal::audit::{self, NewEvent, Target, TargetKind};
use crust_dal::{DalResult, PgConnection};
use crust_domain::audit::{task_read, Outcome, TaskRead};
use crust_domain::Classification;
use uuid::Uuid;

use super::lock;
use super::recorder::Recorder;

#[derive(Default)]
pub(super) struct Reads {
    /// task → (organization, project, SECRET itself)
    pub(super) tasks: HashMap<Uuid, (Uuid, Uuid, bool)>,
    /// project → (organization, SECRET)
    pub(super) projects: HashMap<Uuid, (Uuid, bool)>,
    /// Tasks this request's mutations found not need-to-know (nothing to look up).
    pub(super) plain: std::collections::HashSet<Uuid>,
}

impl Recorder {
    /// Notes that a task was served to the caller.
    pub fn read_task(&self, task: &crust_dal::models::Task) {
        self.read_tasks(std::slice::from_ref(task));
    }

    /// Notes that these tasks were served to the caller (a page at once: one lock).
    pub fn read_tasks(&self, tasks: &[crust_dal::models::Task]) {
        if !self.inner.enabled {
            return;
        }
        let mut reads = lock(&self.inner.reads);
        reads.tasks.reserve(tasks.len());
        for task in tasks {
            reads.tasks.insert(
                task.id,
                (
                    task.org_id,
                    task.project_id,
                    task.classification() == Classification::Secret,
                ),
            );
        }
    }

    /// Notes that a project was served to the caller.
    pub fn read_project(&self, project: &crust_dal::models::Project) {
        if !self.inner.enabled {
            return;
        }
        lock(&self.inner.reads).projects.insert(
            project.id,
            (
                project.org_id,
                project.classification() == Classification::Secret,
            ),
        );
    }

    /// Takes what the request served and returns what its record needs: `None` when
    /// it served nothing need-to-know (most requests: no database work at all).
    pub fn take_reads(&self) -> Option<SecretReads> {
        if !self.inner.enabled {
            return None;
        }
        let reads = std::mem::take(&mut *lock(&self.inner.reads));
        let mut known = Vec::new();
        let mut unsure = Vec::new();
        for (id, (org, secret)) in &reads.projects {
            if *secret {
                known.push((TargetKind::Project, *id, *org));
            }
        }
        for (id, (org, project, secret)) in &reads.tasks {
            let project_secret = reads.projects.get(project).map(|(_, s)| *s);
            match task_read(*secret, project_secret, reads.plain.contains(id)) {
                TaskRead::Record => known.push((TargetKind::Task, *id, *org)),
                TaskRead::Skip => {}
                TaskRead::AskProject => unsure.push((*id, *org, *project)),
            }
        }
        (!known.is_empty() || !unsure.is_empty()).then_some(SecretReads { known, unsure })
    }

    /// Writes a `read` event for every need-to-know object served: SECRET projects,
    /// SECRET tasks and the tasks of SECRET projects (looked up where not known).
    pub fn record_reads(&self, conn: &mut PgConnection, reads: SecretReads) -> DalResult<()> {
        let SecretReads { mut known, unsure } = reads;
        if !unsure.is_empty() {
            let projects: Vec<Uuid> = unsure.iter().map(|(_, _, p)| *p).collect();
            let secret: std::collections::HashSet<Uuid> =
                crust_dal::projects::classified_secret(conn, &projects)?
                    .into_iter()
                    .filter_map(|(project, secret)| secret.then_some(project))
                    .collect();
            known.extend(
                unsure
                    .into_iter()
                    .filter(|(_, _, project)| secret.contains(project))
                    .map(|(task, org, _)| (TargetKind::Task, task, org)),
            );
        }
        let events: Vec<NewEvent> = known
            .into_iter()
            .map(|(kind, id, org)| {
                let mut e = self.event("read", Outcome::Ok);
                e.target = Some(Target::new(kind, id));
                e.organization = Some(org);
                e.need_to_know = true;
                e
            })
            .collect();
        if events.is_empty() {
            return Ok(());
        }
        audit::append_all(conn, events)
    }
}

/// What a request served that its audit record must cover.
pub struct SecretReads {
    /// (kind, id, organization) of objects known to be need-to-know.
    known: Vec<(TargetKind, Uuid, Uuid)>,
    /// (task, organization, project) of tasks whose project's classification is
    /// not known yet.
    unsure: Vec<(Uuid, Uuid, Uuid)>,
}
