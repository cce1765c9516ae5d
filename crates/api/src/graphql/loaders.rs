//! Per-request DataLoaders: nested lists are fetched one level at a time, one SQL
//! statement per level, whatever the number of parents (see `crust_dal::batch`).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::dataloader::{DataLoader, Loader};
use crust_dal::batch::{self, Direction, RollupOf, TaskParent};
use crust_dal::models::{Comment, Dependency, Slice, Task, TaskBox, User};
use crust_dal::sums::{level_sums, LevelSums};
use crust_dal::{Actor, Page, Paged};
use tokio::sync::watch;
use uuid::Uuid;

use super::ahead::Ahead;
use crate::db::Db;
use crate::error::ApiError;

/// Loads for one actor through one (statement-counting) database handle.
pub struct Batch {
    db: Db,
    actor: Actor,
    /// Whether passes over whole projects are kept for the levels below: only in
    /// operations that change nothing. (Mutation fields run one after another, and
    /// what one changes a later one must not read from before it.)
    keeps_sums: bool,
    /// What this request's passes over whole projects found (see [`level_sums`]).
    sums: Mutex<LevelSums>,
    /// How many project rollups are asked and not yet answered: the levels below wait
    /// for their pass rather than read the same tasks again.
    passes: watch::Sender<usize>,
    /// Pages a project's read fetched for the levels below it ([`super::ahead`]).
    ahead: Mutex<Ahead>,
    /// Whether a project's read has read its levels ahead (one per request).
    read_ahead: std::sync::atomic::AtomicBool,
}

/// The request's loader; lives in the request data next to the caller.
pub type Loaders = DataLoader<Batch>;

/// The loaders of one request; `reads_only` when its operation changes nothing.
pub fn loaders(db: Db, actor: Actor, reads_only: bool) -> Loaders {
    let batch = Batch {
        db,
        actor,
        keeps_sums: reads_only,
        sums: Mutex::default(),
        passes: watch::Sender::new(0),
        ahead: Mutex::default(),
        read_ahead: std::sync::atomic::AtomicBool::new(false),
    };
    // Large batches: a level of the tree is one statement even for big boards. The
    // least delay: the keys of a level are all asked for in one poll of the request,
    // before the batch's task first runs (on the same thread), so waiting adds nothing
    // to a batch. A delay of zero still sleeps on tokio's timer, which fires at the
    // next millisecond's tick: up to a millisecond per batch where the old default
    // waited a full one, on async-io's timer thread. (A project's tree is read without
    // batches where it can be: see `ahead`.)
    DataLoader::new(batch, tokio::spawn)
        .max_batch_size(20_000)
        .delay(std::time::Duration::ZERO)
}

impl Batch {
    fn sums(&self) -> std::sync::MutexGuard<'_, LevelSums> {
        // Nothing panics while holding it; a poisoned map is still a valid one.
        self.sums.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ahead(&self) -> std::sync::MutexGuard<'_, Ahead> {
        // As for `sums`: nothing panics while holding it.
        self.ahead.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the operation changes nothing, so that what a read found may be kept for
    /// the levels below it.
    pub(super) fn keeps_sums(&self) -> bool {
        self.keeps_sums
    }

    /// Claims the request's one read ahead ([`super::ahead`]): true for the first
    /// project read that asks, false after.
    pub(super) fn claim_read_ahead(&self) -> bool {
        !self
            .read_ahead
            .swap(true, std::sync::atomic::Ordering::Relaxed)
    }

    /// Adds what a pass found to what this request's passes found.
    fn absorb(&self, found: LevelSums) {
        let mut sums = self.sums();
        sums.progress.extend(found.progress);
        sums.tasks.extend(found.tasks);
    }

    /// Keeps what a project's read found for the levels below it (only kept in
    /// operations that change nothing).
    pub(super) fn keep_ahead(&self, sums: Option<LevelSums>, ahead: Ahead) {
        if !self.keeps_sums {
            return;
        }
        if let Some(found) = sums {
            self.absorb(found);
        }
        let mut kept = self.ahead();
        kept.slices.extend(ahead.slices);
        kept.boxes.extend(ahead.boxes);
        kept.tasks.extend(ahead.tasks);
    }

    /// Waits until every project rollup asked so far has been answered, so that what
    /// its pass found is in `sums`.
    async fn passes_done(&self) {
        let mut passes = self.passes.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = passes.wait_for(|n| *n == 0).await;
    }
}

/// A project rollup asked and not yet answered; see [`Batch::passes`].
struct PassAsked<'a>(&'a watch::Sender<usize>);

impl<'a> PassAsked<'a> {
    fn new(passes: &'a watch::Sender<usize>) -> Self {
        passes.send_modify(|n| *n += 1);
        PassAsked(passes)
    }
}

impl Drop for PassAsked<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlicesOf(pub Uuid, pub Page);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BoxesOf(pub Uuid, pub Page);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TasksOf(pub TaskParent, pub Uuid, pub Page, pub Wants);

/// What the tasks of a page will be asked for, read ahead from the query, so that it
/// comes with the page (the same statements, one level earlier) and the tasks' fields
/// need no loader of their own (see `plain`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Wants {
    pub assignees: bool,
    pub depends_on: bool,
    pub comments: Option<Page>,
}

/// What came with a batch of task pages, for every task in them.
#[derive(Default)]
pub struct Extras {
    pub assignees: Option<batch::HashMap<Uuid, Vec<super::org::User>>>,
    pub depends_on: Option<batch::HashMap<Uuid, Vec<super::task::TaskDependency>>>,
    pub comments: Option<(Page, batch::HashMap<Uuid, Paged<Comment>>)>,
}

impl Extras {
    /// Fetches what `wants` names for `tasks`, on the connection at hand.
    pub(super) fn fetch(
        c: &mut crust_dal::PgConnection,
        actor: &Actor,
        wants: Wants,
        tasks: &[Uuid],
    ) -> crust_dal::DalResult<Extras> {
        let mut extras = Extras::default();
        if tasks.is_empty() {
            return Ok(extras);
        }
        // Made into what the tasks' fields serve here, on the blocking thread, so that
        // they list them without copying.
        if wants.assignees {
            extras.assignees = Some(wrapped(
                batch::assignees_of_tasks(c, actor, tasks)?,
                super::org::User,
            ));
        }
        if wants.depends_on {
            extras.depends_on = Some(wrapped(
                batch::dependencies_of_tasks(c, actor, tasks, Direction::DependsOn)?,
                super::task::TaskDependency::from,
            ));
        }
        if let Some(page) = wants.comments {
            extras.comments = Some((page, batch::comments_of_tasks(c, actor, tasks, page)?));
        }
        Ok(extras)
    }
}
/// Each task's list, its items made into `U`.
fn wrapped<T, U>(
    lists: batch::HashMap<Uuid, Vec<T>>,
    wrap: impl Fn(T) -> U + Copy,
) -> batch::HashMap<Uuid, Vec<U>> {
    lists
        .into_iter()
        .map(|(task, items)| (task, items.into_iter().map(wrap).collect()))
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommentsOf(pub Uuid, pub Page);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttachmentsOf(pub Uuid, pub Page);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AssigneesOf(pub Uuid);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DependenciesOf(pub Direction, pub Uuid);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProgressOf(pub RollupOf, pub Uuid);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserById(pub Uuid);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProjectNameOf(pub Uuid);

/// Splits keys into groups that one statement can answer (same page, same kind).
fn groups<K, G: Hash + Eq>(keys: &[K], split: impl Fn(&K) -> (G, Uuid)) -> HashMap<G, Vec<Uuid>> {
    let mut out: HashMap<G, Vec<Uuid>> = HashMap::new();
    for k in keys {
        let (g, id) = split(k);
        out.entry(g).or_default().push(id);
    }
    out
}

macro_rules! grouped_loader {
    ($key:ident, $value:ty, |$k:ident| $split:expr, |$c:ident, $actor:ident, $group:ident, $ids:ident| $fetch:expr, |$g:ident, $id:ident| $rebuild:expr) => {
        impl Loader<$key> for Batch {
            type Value = $value;
            type Error = ApiError;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, ApiError> {
                let mut out = HashMap::new();
                for ($group, $ids) in groups(keys, |$k: &$key| $split) {
                    let $actor = self.actor.clone();
                    let found = self.db.run(move |$c| $fetch).await?;
                    for ($id, value) in found {
                        let $g = $group;
                        out.insert($rebuild, value);
                    }
                }
                Ok(out)
            }
        }
    };
}

grouped_loader!(
    SlicesOf,
    Paged<Slice>,
    |k| (k.1, k.0),
    |c, actor, page, ids| batch::slices_of_projects(c, &actor, &ids, page),
    |page, id| SlicesOf(id, page)
);
grouped_loader!(
    BoxesOf,
    Paged<TaskBox>,
    |k| (k.1, k.0),
    |c, actor, page, ids| batch::boxes_of_slices(c, &actor, &ids, page),
    |page, id| BoxesOf(id, page)
);
/// Pages of tasks, with what their tasks will be asked for ([`Wants`]); a parent's
/// total comes from a project's pass when it ran.
impl Loader<TasksOf> for Batch {
    type Value = (Paged<Task>, Arc<Extras>);
    type Error = ApiError;

    async fn load(&self, keys: &[TasksOf]) -> Result<HashMap<TasksOf, Self::Value>, ApiError> {
        self.passes_done().await;
        let mut out = HashMap::new();
        for ((by, page, wants), ids) in groups(keys, |k| ((k.0, k.2, k.3), k.1)) {
            let known: batch::HashMap<Uuid, i64> = {
                let sums = self.sums();
                ids.iter()
                    .filter_map(|id| Some((*id, *sums.tasks.get(&(by, *id))?)))
                    .collect()
            };
            let actor = self.actor.clone();
            let (pages, extras) = self
                .db
                .run(move |c| {
                    let pages = batch::tasks_of_counted(c, &actor, by, &ids, page, known)?;
                    let tasks: Vec<Uuid> = pages
                        .values()
                        .flat_map(|p| p.items.iter().map(|t| t.id))
                        .collect();
                    let extras = Extras::fetch(c, &actor, wants, &tasks)?;
                    Ok((pages, extras))
                })
                .await?;
            let extras = Arc::new(extras);
            out.extend(
                pages
                    .into_iter()
                    .map(|(id, v)| (TasksOf(by, id, page, wants), (v, extras.clone()))),
            );
        }
        Ok(out)
    }
}
grouped_loader!(
    CommentsOf,
    Paged<Comment>,
    |k| (k.1, k.0),
    |c, actor, page, ids| batch::comments_of_tasks(c, &actor, &ids, page),
    |page, id| CommentsOf(id, page)
);
grouped_loader!(
    AttachmentsOf,
    Paged<crust_dal::attachments::Attachment>,
    |k| (k.1, k.0),
    |c, actor, page, ids| batch::attachments_of_tasks(c, &actor, &ids, page),
    |page, id| AttachmentsOf(id, page)
);
grouped_loader!(
    AssigneesOf,
    Vec<User>,
    |k| ((), k.0),
    |c, actor, _g, ids| batch::assignees_of_tasks(c, &actor, &ids),
    |_g, id| AssigneesOf(id)
);
grouped_loader!(
    DependenciesOf,
    Vec<Dependency>,
    |k| (k.0, k.1),
    |c, actor, dir, ids| batch::dependencies_of_tasks(c, &actor, &ids, dir),
    |dir, id| DependenciesOf(dir, id)
);
/// Rollups. A project's is one pass over its visible tasks that also answers its
/// slices' and boxes' rollups and counts ([`level_sums`]); those levels read what the
/// pass found and run their own statement only for what it could not tell.
impl Loader<ProgressOf> for Batch {
    type Value = Option<f64>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[ProgressOf],
    ) -> Result<HashMap<ProgressOf, Option<f64>>, ApiError> {
        let first = {
            let sums = self.sums();
            first_step(keys, self.keeps_sums, &sums)
        };
        match first {
            FirstStep::WaitForPasses => self.passes_done().await,
            FirstStep::Answered => {}
            FirstStep::Pass(projects) => {
                let actor = self.actor.clone();
                let found = self
                    .db
                    .run(move |c| level_sums(c, &actor, &projects))
                    .await?;
                self.absorb(found);
            }
        }
        let mut out = HashMap::new();
        let mut unknown = Vec::new();
        {
            let sums = self.sums();
            for k in keys {
                match sums.progress.get(&(k.0, k.1)) {
                    Some(rollup) => {
                        out.insert(*k, *rollup);
                    }
                    None => unknown.push(*k),
                }
            }
        }
        for (of, ids) in groups(&unknown, |k| (k.0, k.1)) {
            let actor = self.actor.clone();
            let found = self
                .db
                .run(move |c| batch::progress_of(c, &actor, of, &ids))
                .await?;
            out.extend(found.into_iter().map(|(id, v)| (ProgressOf(of, id), v)));
        }
        Ok(out)
    }
}
/// What a batch of rollups does before reading what the passes found.
#[derive(Debug, PartialEq)]
enum FirstStep {
    /// Wait until every pass asked so far has run (a batch of slices and boxes only).
    WaitForPasses,
    /// Run the pass over these projects.
    Pass(Vec<Uuid>),
    /// Neither: the passes of its projects already ran, or the operation keeps none.
    Answered,
}

/// A batch that asks a project's rollup never waits for passes: those who asked it
/// hold the count of passes up (see [`rollup`]), so it would wait for itself until the
/// request's deadline. A project whose pass already ran (with its read) needs no other.
fn first_step(keys: &[ProgressOf], keeps_sums: bool, sums: &LevelSums) -> FirstStep {
    if !keeps_sums {
        return FirstStep::Answered;
    }
    if !keys.iter().any(|k| k.0 == RollupOf::Project) {
        return FirstStep::WaitForPasses;
    }
    let projects: Vec<Uuid> = keys
        .iter()
        .filter(|k| k.0 == RollupOf::Project && !sums.progress.contains_key(&(k.0, k.1)))
        .map(|k| k.1)
        .collect();
    if projects.is_empty() {
        FirstStep::Answered
    } else {
        FirstStep::Pass(projects)
    }
}

grouped_loader!(
    UserById,
    User,
    |k| ((), k.0),
    |c, actor, _g, ids| batch::users_by_id(c, &actor, &ids),
    |_g, id| UserById(id)
);
grouped_loader!(
    ProjectNameOf,
    String,
    |k| ((), k.0),
    |c, actor, _g, ids| batch::project_names(c, &actor, &ids),
    |_g, id| ProjectNameOf(id)
);

/// The request's loaders (only signed-in requests have them).
pub(super) fn request_loaders<'a>(
    ctx: &async_graphql::Context<'a>,
) -> Result<&'a Loaders, ApiError> {
    ctx.data::<Loaders>().map_err(|_| {
        ApiError::Unauthenticated("sign in first: send Authorization: Bearer <access token>")
    })
}

/// One page of a nested list, loaded together with its siblings' pages (one statement
/// per level of the tree) — the shape of every nested list resolver.
pub(super) async fn loaded_page<K, T, N>(
    ctx: &async_graphql::Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    key: impl FnOnce(Page) -> K,
    wrap: impl Fn(T) -> N,
) -> Result<super::connection::Conn<N>, ApiError>
where
    Batch: Loader<K, Value = Paged<T>, Error = ApiError> + TakenAhead<K>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
    T: Send + Sync + Clone + 'static,
    N: async_graphql::OutputType,
{
    let page = super::connection::page(first, after)?;
    let loaders = request_loaders(ctx)?;
    let key = key(page);
    let rows = match loaders.loader().take_ahead(&key) {
        Some(rows) => Some(rows),
        None => loaders.load_one(key).await?,
    };
    Ok(super::connection::connection(
        rows.unwrap_or_else(|| Paged::empty(page)),
        wrap,
    ))
}

/// A page a project's read may have fetched ahead ([`super::ahead`]); taken once, by
/// the resolver whose key it is.
pub(super) trait TakenAhead<K: Send + Sync + Hash + Eq + Clone + 'static>:
    Loader<K>
{
    fn take_ahead(&self, _key: &K) -> Option<Self::Value> {
        None
    }
}

impl TakenAhead<SlicesOf> for Batch {
    fn take_ahead(&self, key: &SlicesOf) -> Option<Paged<Slice>> {
        self.ahead().slices.remove(key)
    }
}
impl TakenAhead<BoxesOf> for Batch {
    fn take_ahead(&self, key: &BoxesOf) -> Option<Paged<TaskBox>> {
        self.ahead().boxes.remove(key)
    }
}
impl TakenAhead<CommentsOf> for Batch {}
impl TakenAhead<AttachmentsOf> for Batch {}

/// A page of tasks of a box or project, with what the query will ask of them fetched
/// alongside ([`Wants`]), answered without a future per field where it can be
/// ([`super::plain`]).
pub(super) async fn task_page(
    ctx: &async_graphql::Context<'_>,
    by: TaskParent,
    parent: Uuid,
    first: Option<i32>,
    after: Option<String>,
) -> Result<super::plain::Plainly<super::connection::Conn<super::task::Task>>, ApiError> {
    let page = super::connection::page(first, after)?;
    let key = TasksOf(by, parent, page, wants_of(&ctx.look_ahead()));
    let loaders = request_loaders(ctx)?;
    let ahead = loaders.loader().ahead().tasks.remove(&key);
    let found = match ahead {
        Some(found) => Some(found),
        None => loaders.load_one(key).await?,
    };
    let (rows, extras) = found.unwrap_or_else(|| (Paged::empty(page), Arc::default()));
    Ok(super::plain::Plainly(super::task::Task::page_served(
        ctx, rows, &extras,
    )))
}

/// The page a paged field (`first`, `after`) asks for, its variables read; `None`
/// when its arguments are not a valid page (the engine then says why).
pub(super) fn page_asked(field: &async_graphql::SelectionField<'_>) -> Option<Page> {
    use async_graphql::InputType;
    let args = field.arguments().ok()?;
    let arg = |name: &str| {
        args.iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, v)| v.clone())
    };
    let first = <Option<i32>>::parse(arg("first")).ok()?;
    let after = <Option<String>>::parse(arg("after")).ok()?;
    super::connection::page(first, after).ok()
}

/// What the query asks of the tasks of a `tasks` field's `nodes` (`look` is the
/// field's own selection).
pub(super) fn wants_of(look: &async_graphql::Lookahead<'_>) -> Wants {
    let nodes = look.field("nodes");
    // One page of comments for every task, when all the selections agree on it.
    let comments = nodes
        .field("comments")
        .selection_fields()
        .iter()
        .map(page_asked)
        .collect::<Option<std::collections::HashSet<Page>>>()
        .filter(|pages| pages.len() == 1)
        .and_then(|pages| pages.into_iter().next());
    Wants {
        assignees: nodes.field("assignees").exists(),
        depends_on: nodes.field("dependsOn").exists() || nodes.field("isBlocked").exists(),
        comments,
    }
}

/// The duration-weighted progress of a project, slice or box, as the caller sees it.
pub(super) async fn rollup(
    ctx: &async_graphql::Context<'_>,
    of: RollupOf,
    id: Uuid,
) -> Result<Option<f64>, ApiError> {
    let loaders = request_loaders(ctx)?;
    let batch = loaders.loader();
    // Answered by a pass that already ran (one that ran with its project's read).
    if let Some(known) = batch.sums().progress.get(&(of, id)) {
        return Ok(*known);
    }
    // Said before the load is queued, so that the levels below, asked meanwhile, wait
    // for this project's pass.
    let _asked =
        (batch.keeps_sums && of == RollupOf::Project).then(|| PassAsked::new(&batch.passes));
    Ok(loaders.load_one(ProgressOf(of, id)).await?.flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_asking_a_project_never_waits_for_passes() {
        let (p, q, s) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut sums = LevelSums::default();
        let project = |id| ProgressOf(RollupOf::Project, id);
        let slice = ProgressOf(RollupOf::Slice, s);
        // Not yet passed: the batch runs the pass itself.
        assert_eq!(
            first_step(&[project(p), slice], true, &sums),
            FirstStep::Pass(vec![p])
        );
        // Its pass ran meanwhile (with the project's read): neither a pass nor a wait —
        // this is the batch that used to wait for itself.
        sums.progress.insert((RollupOf::Project, p), Some(50.0));
        assert_eq!(first_step(&[project(p)], true, &sums), FirstStep::Answered);
        assert_eq!(
            first_step(&[project(p), slice], true, &sums),
            FirstStep::Answered
        );
        assert_eq!(
            first_step(&[project(p), project(q)], true, &sums),
            FirstStep::Pass(vec![q])
        );
        // Only slices and boxes: they wait for the passes asked.
        assert_eq!(first_step(&[slice], true, &sums), FirstStep::WaitForPasses);
        // An operation that changes something keeps no passes: nothing to wait for.
        assert_eq!(
            first_step(&[project(p), slice], false, &sums),
            FirstStep::Answered
        );
    }
}
