//! The log as its readers see it: an organization's events for its OWNERs and ADMINs
//! (need-to-know events only to those who may see what they name), and a user's own
//! security events.

use super::locate::visible_among;
use super::*;

/// What `auditEvents` may narrow the log to.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub actor: Option<Uuid>,
    pub action: Option<String>,
    pub target: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

pub(super) type EventQuery<'a> = events::BoxedQuery<'a, diesel::pg::Pg>;

pub(super) fn filtered<'a>(chain: Uuid, f: &EventFilter) -> EventQuery<'a> {
    let mut q = events::table.filter(events::chain.eq(chain)).into_boxed();
    if let Some(a) = f.actor {
        q = q.filter(events::actor_id.eq(a));
    }
    if let Some(a) = &f.action {
        q = q.filter(events::action.eq(a.clone()));
    }
    if let Some(t) = f.target {
        q = q.filter(events::target_id.eq(t));
    }
    if let Some(from) = f.from {
        q = q.filter(events::occurred_at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(events::occurred_at.lt(to));
    }
    q
}

/// The organization's events, newest first, for its OWNERs and ADMINs (others: as
/// [`crate::orgs::check`] decides). Events about need-to-know objects (tasks, projects,
/// their comments, boxes and slices) are listed only to readers who may see that object
/// now, like every other list; about one that no longer exists, to no one. The same
/// holds for every need-to-know object an event names besides its target: all of them
/// must be visible to the reader, or the event is left out (of the count too).
pub fn for_org(
    conn: &mut PgConnection,
    actor: &Actor,
    org: OrgId,
    filter: &EventFilter,
    page: Page,
) -> DalResult<Paged<Event>> {
    crate::orgs::check(
        actor,
        org,
        Action::ReadAuditLog,
        "read this organization's audit log",
    )?;
    // Deny by default: an event whose named ids appeared after this list was read is
    // left out, not let through.
    let named: Vec<Uuid> = events::table
        .filter(events::chain.eq(org.0))
        .filter(diesel::dsl::sql::<Bool>(
            "cardinality(need_to_know_ids) > 0",
        ))
        .select(diesel::dsl::sql::<SqlUuid>(
            "DISTINCT unnest(need_to_know_ids)",
        ))
        .load(conn)?;
    let seen = visible_among(conn, actor, &named)?;
    let visible = |q: EventQuery<'static>| {
        let tasks = tasks::table
            .filter(task_visible(actor))
            .select(tasks::id.nullable())
            .into_boxed();
        let projects = projects::table
            .filter(project_visible(actor))
            .select(projects::id.nullable())
            .into_boxed();
        let comments_tasks = tasks::table
            .filter(task_visible(actor))
            .select(tasks::id)
            .into_boxed();
        let comments = comments::table
            .filter(comments::task_id.eq_any(comments_tasks))
            .select(comments::id.nullable())
            .into_boxed();
        let attachments_tasks = tasks::table
            .filter(task_visible(actor))
            .select(tasks::id)
            .into_boxed();
        let attachments = attachments::table
            .filter(attachments::task_id.eq_any(attachments_tasks))
            .select(attachments::id.nullable())
            .into_boxed();
        let boxes = boxes::table
            .filter(box_visible(actor))
            .select(boxes::id.nullable())
            .into_boxed();
        let slices = slices::table
            .filter(slice_visible(actor))
            .select(slices::id.nullable())
            .into_boxed();
        let about = |kind: TargetKind| events::target_type.eq(kind.as_str());
        q.filter(
            events::need_to_know
                .eq(false)
                .or(about(TargetKind::Task).and(events::target_id.eq_any(tasks)))
                .or(about(TargetKind::Project).and(events::target_id.eq_any(projects)))
                .or(about(TargetKind::Comment).and(events::target_id.eq_any(comments)))
                .or(about(TargetKind::Attachment).and(events::target_id.eq_any(attachments)))
                .or(about(TargetKind::Box).and(events::target_id.eq_any(boxes)))
                .or(about(TargetKind::Slice).and(events::target_id.eq_any(slices))),
        )
        .filter(events::need_to_know_ids.is_contained_by(seen.clone()))
    };
    newest_first(conn, || visible(filtered(org.0, filter)), page)
}

/// One page of a chain's events, newest first, with their total.
fn newest_first(
    conn: &mut PgConnection,
    query: impl Fn() -> EventQuery<'static>,
    page: Page,
) -> DalResult<Paged<Event>> {
    let total: i64 = query().count().get_result(conn)?;
    let items = query()
        .order(events::seq.desc())
        .offset(page.offset)
        .limit(page.limit)
        .select(Event::as_select())
        .load(conn)?;
    Ok(Paged::new(items, total, page))
}

/// The security events of a user's account (their sign-ins, sessions, password
/// changes, and failed sign-ins against it), newest first.
pub fn security_events(
    conn: &mut PgConnection,
    auth: &crate::sessions::Authenticated,
    page: Page,
) -> DalResult<Paged<Event>> {
    let user = auth.user_id();
    let mine = || {
        filtered(GLOBAL_CHAIN, &EventFilter::default())
            // The account concerned, not whoever acted: a failed login names its
            // target account, and only that account's owner may read how it failed.
            .filter(events::subject_user_id.eq(user.0))
            .filter(events::action.eq_any(SECURITY_ACTIONS))
    };
    newest_first(conn, mine, page)
}

/// The actions a user sees among their security events.
pub const SECURITY_ACTIONS: &[&str] = &[
    "signUp",
    "login",
    "loginRateLimited",
    "accountLocked",
    "refreshSession",
    "refreshTokenReused",
    "logout",
    "changePassword",
    "revokeSession",
    "verifyEmail",
    "requestPasswordReset",
    "resetPassword",
    "changeEmail",
    "confirmEmailChange",
];
