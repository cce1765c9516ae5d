//! A project read together with the levels of its tree that the query asks for, in
//! one database hop.
//!
//! Each level of `project { progress slices { nodes { boxes { nodes { tasks … } } } } }`
//! used to be a hop of its own — work handed to a blocking thread and a pooled
//! connection, and back — one after the other, and the project's pass beside the
//! slices: five for a board's request, each a wake-up of a thread on both sides and a
//! DataLoader task. When the query names each level once, the project's read runs the
//! very statements the loaders would run for them, with the same keys, on its own
//! connection, and keeps what they found for the resolvers below ([`Ahead`]).
//!
//! Nothing is served from here that the loaders would not have answered alike: an
//! entry is taken only by the resolver whose key it is (page, parent and, for tasks,
//! what the query asks of them), and one not taken is dropped with the request. What
//! is read but not served is not recorded as read (the audit records what is served).
//! Where the query asks a level twice (aliases, fragments with other pages), or a page
//! is not a valid one, reading ahead stops there and the loaders take over. Only in
//! operations that change nothing, like the pass itself, and for one project per
//! request: the loaders answer many projects' levels together, while a read ahead holds
//! a connection of its own (sixteen aliased projects must not take the whole pool).
//!
//! A statement that fails while reading ahead (a statement timeout, say) ends reading
//! ahead and is logged; the project is served, and the loaders run the levels not read
//! yet, so their errors stand at their own fields as before. Selections left out by
//! `@skip`/`@include` are not seen: async-graphql removes them from the document
//! before it runs, look-ahead included.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_graphql::{Context, Lookahead, SelectionField};
use crust_dal::batch::{self, TaskParent};
use crust_dal::models::{self, Slice, Task, TaskBox};
use crust_dal::sums::{level_sums, LevelSums};
use crust_dal::{Actor, DalResult, Page, Paged, PgConnection};
use crust_domain::ProjectId;
use uuid::Uuid;

use super::loaders::{page_asked, wants_of, BoxesOf, Extras, SlicesOf, TasksOf, Wants};
use crate::error::ApiError;

/// What a project's read fetched for the levels below it, until their resolvers take it.
#[derive(Default)]
pub struct Ahead {
    pub slices: HashMap<SlicesOf, Paged<Slice>>,
    pub boxes: HashMap<BoxesOf, Paged<TaskBox>>,
    pub tasks: HashMap<TasksOf, (Paged<Task>, Arc<Extras>)>,
}

/// Which levels the query asks of a project, each once, with the page it asks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Plan {
    pass: bool,
    slices: Option<Page>,
    boxes: Option<Page>,
    tasks: Option<(Page, Wants)>,
}

impl Plan {
    /// Read from the `project` field's selection. `keeps_sums`: the operation changes
    /// nothing, so the pass, and anything read ahead, may be kept.
    fn of(look: &Lookahead<'_>, keeps_sums: bool) -> Plan {
        let mut plan = Plan::default();
        if !keeps_sums {
            return plan;
        }
        plan.pass = look.field("progress").exists();
        let Some((slices, page)) = once(look.field("slices")) else {
            return plan;
        };
        plan.slices = Some(page);
        let Some((boxes, page)) = once(Lookahead::from(slices).field("nodes").field("boxes"))
        else {
            return plan;
        };
        plan.boxes = Some(page);
        plan.tasks = once(Lookahead::from(boxes).field("nodes").field("tasks"))
            .map(|(tasks, page)| (page, wants_of(&Lookahead::from(tasks))));
        plan
    }

    /// Runs the plan's statements after the project's read, on the same connection:
    /// the same statements, with the same keys, as the loaders of these levels. Stops
    /// at a failure (logged; the levels from there on are the loaders'), and before a
    /// statement once `dropped` is set: no one waits for the answer any more.
    fn fetch(
        self,
        c: &mut PgConnection,
        actor: &Actor,
        project: Uuid,
        dropped: &AtomicBool,
    ) -> Fetched {
        let mut fetched = Fetched::default();
        if let Err(e) = fetched.levels(self, c, actor, project, dropped) {
            tracing::warn!(error = %e, "reading a project's levels ahead failed; its loaders take over");
        }
        fetched
    }
}

/// The one selection of a paged level, and its page; `None` when the query asks the
/// level more than once or not at all, or with arguments that are not a page.
fn once<'a>(look: Lookahead<'a>) -> Option<(SelectionField<'a>, Page)> {
    let mut fields = look.selection_fields();
    if fields.len() != 1 {
        return None;
    }
    let field = fields.pop()?;
    let page = page_asked(&field)?;
    Some((field, page))
}

/// What [`Plan::fetch`] found.
#[derive(Default)]
struct Fetched {
    sums: Option<LevelSums>,
    ahead: Ahead,
}

impl Fetched {
    fn levels(
        &mut self,
        plan: Plan,
        c: &mut PgConnection,
        actor: &Actor,
        project: Uuid,
        dropped: &AtomicBool,
    ) -> DalResult<()> {
        let gone = || dropped.load(Ordering::Relaxed);
        if plan.pass && !gone() {
            self.sums = Some(level_sums(c, actor, &[project])?);
        }
        let Some(page) = plan.slices.filter(|_| !gone()) else {
            return Ok(());
        };
        let slices = batch::slices_of_projects(c, actor, &[project], page)?;
        // A slice is of one project, a box of one slice: each id comes once.
        let slice_ids: Vec<Uuid> = slices
            .values()
            .flat_map(|p| p.items.iter().map(|s| s.id))
            .collect();
        self.ahead
            .slices
            .extend(slices.into_iter().map(|(id, p)| (SlicesOf(id, page), p)));
        let Some(page) = plan.boxes.filter(|_| !slice_ids.is_empty() && !gone()) else {
            return Ok(());
        };
        let boxes = batch::boxes_of_slices(c, actor, &slice_ids, page)?;
        let box_ids: Vec<Uuid> = boxes
            .values()
            .flat_map(|p| p.items.iter().map(|b| b.id))
            .collect();
        self.ahead
            .boxes
            .extend(boxes.into_iter().map(|(id, p)| (BoxesOf(id, page), p)));
        let Some((page, wants)) = plan.tasks.filter(|_| !box_ids.is_empty() && !gone()) else {
            return Ok(());
        };
        // Totals the pass counted, as the task pages' loader takes them.
        let known: batch::HashMap<Uuid, i64> = match &self.sums {
            Some(sums) => box_ids
                .iter()
                .filter_map(|id| Some((*id, *sums.tasks.get(&(TaskParent::Box, *id))?)))
                .collect(),
            None => batch::HashMap::default(),
        };
        let pages = batch::tasks_of_counted(c, actor, TaskParent::Box, &box_ids, page, known)?;
        let tasks: Vec<Uuid> = pages
            .values()
            .flat_map(|p| p.items.iter().map(|t| t.id))
            .collect();
        if gone() {
            return Ok(());
        }
        let extras = Arc::new(Extras::fetch(c, actor, wants, &tasks)?);
        self.ahead.tasks.extend(pages.into_iter().map(|(id, p)| {
            (
                TasksOf(TaskParent::Box, id, page, wants),
                (p, extras.clone()),
            )
        }));
        Ok(())
    }
}

/// The project `pid` as the caller may read it, and the levels of its tree the query
/// asks for, read in the same hop and kept for their resolvers.
pub(super) async fn project_and_levels(
    ctx: &Context<'_>,
    actor: Actor,
    pid: ProjectId,
) -> Result<models::Project, ApiError> {
    let loaders = ctx.data_opt::<super::loaders::Loaders>();
    let plan = loaders
        .map(|l| Plan::of(&ctx.look_ahead(), l.loader().keeps_sums()))
        .filter(|plan| *plan != Plan::default())
        .filter(|_| loaders.is_some_and(|l| l.loader().claim_read_ahead()));
    let work = super::db(ctx)?;
    let Some(plan) = plan else {
        return work
            .run(move |c| crust_dal::projects::get(c, &actor, pid))
            .await;
    };
    let dropped = Arc::new(AtomicBool::new(false));
    let _told = SetOnDrop(dropped.clone());
    let (project, fetched) = work
        .run(move |c| {
            let project = crust_dal::projects::get(c, &actor, pid)?;
            let fetched = plan.fetch(c, &actor, project.id, &dropped);
            Ok((project, fetched))
        })
        .await?;
    if let Some(batch) = loaders.map(|l| l.loader()) {
        batch.keep_ahead(fetched.sums, fetched.ahead);
    }
    Ok(project)
}

/// Sets its flag when dropped: with the request's future, when it is given up (a
/// deadline, a client gone) while its database work still runs.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
