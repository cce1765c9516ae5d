//! Attachments: files on tasks. The database holds what is needed to find and read a
//! file (its storage key, its data key wrapped by a master key); the bytes live,
//! encrypted, in the file store the API owns.
//!
//! Who may do what follows the task: attaching is an edit (`UpdateTaskProgress`, what
//! an EDIT grant allows), reading follows the task's visibility, deleting is for the
//! uploader or a project MANAGER (as for comments). An attachment of a task the actor
//! cannot see does not exist for them.
//!
//! An upload is two steps around the transfer: [`begin_upload`] checks the right,
//! answers the organization's use and reserves the blob's key in the purge queue (so a
//! blob whose upload never finishes is removed); [`finish_upload`] checks again,
//! applies the quota under a per-organization lock and swaps the reservation for the
//! attachment row.

use chrono::{DateTime, Utc};
use crust_domain::{decide, Action, Decision, Object, TaskId};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::{Project, Task};
use crate::schema::{attachments, blob_purges, projects, tasks};

#[derive(Queryable, QueryableByName, Selectable, Clone, Debug)]
#[diesel(table_name = attachments, check_for_backend(diesel::pg::Pg))]
pub struct Attachment {
    pub id: Uuid,
    pub task_id: Uuid,
    pub org_id: Uuid,
    pub uploader_id: Option<Uuid>,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub storage_key: String,
    pub key_id: String,
    pub wrapped_key: Vec<u8>,
    pub nonce_prefix: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// What an upload may go on with.
#[derive(Clone, Debug)]
pub struct UploadSlot {
    pub task: Task,
    /// Bytes the organization's files take now.
    pub used: i64,
    /// The blob's key, reserved.
    pub storage_key: String,
}

/// The organization would go over its quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverQuota {
    pub used: i64,
}

/// Checks that the actor may attach a file to the task, reserves the blob's storage
/// key (`key_of` the task's organization; the blob is removed after `hold_secs` unless
/// [`finish_upload`] claims it first) and answers how much the organization already
/// stores.
pub fn begin_upload(
    conn: &mut PgConnection,
    actor: &Actor,
    task: TaskId,
    key_of: impl FnOnce(Uuid) -> String,
    hold_secs: i64,
) -> DalResult<UploadSlot> {
    conn.transaction(|conn| {
        let (task, _) = crate::tasks::authorize(
            conn,
            actor,
            task,
            Action::UpdateTaskProgress,
            "attach files to this task",
        )?;
        let used = used_by(conn, task.org_id)?;
        let storage_key = key_of(task.org_id);
        diesel::sql_query(
            "INSERT INTO blob_purges (storage_key, not_before) \
             VALUES ($1, now() + make_interval(secs => $2))",
        )
        .bind::<Text, _>(&storage_key)
        .bind::<BigInt, _>(hold_secs)
        .execute(conn)?;
        Ok(UploadSlot {
            task,
            used,
            storage_key,
        })
    })
}

#[derive(QueryableByName)]
struct Used {
    #[diesel(sql_type = BigInt)]
    used: i64,
}

/// Bytes the organization's files take.
fn used_by(conn: &mut PgConnection, org: Uuid) -> DalResult<i64> {
    let row: Used = diesel::sql_query(
        "SELECT coalesce(sum(size_bytes), 0)::bigint AS used FROM attachments WHERE org_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(org)
    .get_result(conn)?;
    Ok(row.used)
}

/// An uploaded file, ready to be recorded.
#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = attachments)]
pub struct NewAttachment {
    pub id: Uuid,
    pub task_id: Uuid,
    pub org_id: Uuid,
    pub uploader_id: Option<Uuid>,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub storage_key: String,
    pub key_id: String,
    pub wrapped_key: Vec<u8>,
    pub nonce_prefix: Vec<u8>,
}

/// Records an uploaded file: the actor must still be allowed to attach to the task, and
/// the organization stay within `quota` bytes (checked under a per-organization lock,
/// so two uploads cannot both take the last room). The reservation of the blob's key
/// is taken back; if it is gone (the upload outlived it), nothing is recorded.
pub fn finish_upload(
    conn: &mut PgConnection,
    actor: &Actor,
    mut new: NewAttachment,
    quota: i64,
) -> DalResult<Result<Attachment, OverQuota>> {
    conn.transaction(|conn| {
        let (task, _) = crate::tasks::authorize(
            conn,
            actor,
            TaskId(new.task_id),
            Action::UpdateTaskProgress,
            "attach files to this task",
        )?;
        diesel::sql_query(
            "SELECT pg_advisory_xact_lock(hashtext('attachment quota'), hashtext($1::text))",
        )
        .bind::<diesel::sql_types::Uuid, _>(task.org_id)
        .execute(conn)?;
        let used = used_by(conn, task.org_id)?;
        if used.saturating_add(new.size_bytes) > quota {
            return Ok(Err(OverQuota { used }));
        }
        // A reservation the purge has claimed (its time ran out) is not taken back: the
        // purge may be removing the blob right now.
        let reserved = diesel::delete(
            blob_purges::table
                .find(&new.storage_key)
                .filter(blob_purges::attempts.eq(0))
                .filter(blob_purges::not_before.gt(diesel::dsl::now)),
        )
        .execute(conn)?;
        if reserved != 1 {
            return Err(DalError::Conflict(
                "the upload took too long and was given up; send it again".into(),
            ));
        }
        new.org_id = task.org_id;
        new.uploader_id = Some(actor.uid());
        let created = diesel::insert_into(attachments::table)
            .values(&new)
            .returning(Attachment::as_returning())
            .get_result(conn)?;
        Ok(Ok(created))
    })
}

/// Gives back the reservation of a blob that was removed (or never written) after its
/// upload failed. The key was made by the server for this upload; it names no data.
pub fn release(conn: &mut PgConnection, storage_key: &str) -> DalResult<()> {
    diesel::delete(blob_purges::table.find(storage_key)).execute(conn)?;
    Ok(())
}

/// An attachment of a task the actor may read; anything else is `NotFound` — from the
/// same one statement, so a hidden file answers like a missing one.
pub fn get(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> DalResult<Attachment> {
    let mut q = crate::raw::Raw::new(
        "SELECT a.id, a.task_id, a.org_id, a.uploader_id, a.name, a.content_type, a.size_bytes, \
                a.storage_key, a.key_id, a.wrapped_key, a.nonce_prefix, a.created_at \
           FROM attachments a JOIN tasks t ON t.id = a.task_id WHERE a.id = ",
    );
    q.uuid(id).sql(" AND ").task_rule(actor, "t");
    let found: Vec<Attachment> = q.load(conn)?;
    found.into_iter().next().ok_or(DalError::NotFound)
}

/// Whether an attachment (still) exists, whoever may see it: after a read found its
/// blob gone, this tells a file deleted meanwhile from a lost one. Answers nothing else.
pub fn exists(conn: &mut PgConnection, id: Uuid) -> DalResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(attachments::table.find(id))).get_result(conn)?)
}

/// Deletes an attachment: its uploader or a project MANAGER may (for a task they can
/// see). Its data key goes with the row; the blob is queued for removal by the
/// database itself.
pub fn delete(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> DalResult<Attachment> {
    conn.transaction(|conn| {
        let attachment = get(conn, actor, id)?;
        if attachment.uploader_id != Some(actor.uid()) {
            let project: Project = projects::table
                .filter(
                    projects::id.nullable().eq(tasks::table
                        .find(attachment.task_id)
                        .select(tasks::project_id)
                        .single_value()),
                )
                .select(Project::as_select())
                .first(conn)?;
            let facts = crate::projects::facts(conn, actor, &project)?;
            if decide(Action::ManageProjectMembers, Object::Project(facts)) != Decision::Allow {
                return Err(DalError::forbidden(
                    "only its uploader or a project MANAGER may delete an attachment",
                ));
            }
        }
        diesel::delete(attachments::table.find(id)).execute(conn)?;
        Ok(attachment)
    })
}

/// Files by master key id, for `crust keys`.
pub fn count_by_key(_: &crate::Operator, conn: &mut PgConnection) -> DalResult<Vec<(String, i64)>> {
    Ok(attachments::table
        .group_by(attachments::key_id)
        .select((attachments::key_id, diesel::dsl::count_star()))
        .order(attachments::key_id)
        .load(conn)?)
}

/// A file's wrapped data key.
#[derive(Clone, Debug, Queryable)]
pub struct WrappedKey {
    pub id: Uuid,
    pub key_id: String,
    pub wrapped_key: Vec<u8>,
}

/// Up to `limit` files whose data key is not wrapped by `kid`, after `after` (by id).
pub fn wrapped_keys_not_under(
    _: &crate::Operator,
    conn: &mut PgConnection,
    kid: &str,
    after: Option<Uuid>,
    limit: i64,
) -> DalResult<Vec<WrappedKey>> {
    let mut q = attachments::table
        .filter(attachments::key_id.ne(kid))
        .select((
            attachments::id,
            attachments::key_id,
            attachments::wrapped_key,
        ))
        .order(attachments::id)
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(attachments::id.gt(after));
    }
    Ok(q.load(conn)?)
}

/// Replaces a file's wrapped data key, if it is still the one read (`from`): a file
/// deleted or re-wrapped meanwhile is left as it is. Answers whether it was replaced.
pub fn rewrap(
    _: &crate::Operator,
    conn: &mut PgConnection,
    from: &WrappedKey,
    kid: &str,
    wrapped: &[u8],
) -> DalResult<bool> {
    let n = diesel::update(
        attachments::table
            .filter(attachments::id.eq(from.id))
            .filter(attachments::key_id.eq(&from.key_id))
            .filter(attachments::wrapped_key.eq(&from.wrapped_key)),
    )
    .set((
        attachments::key_id.eq(kid),
        attachments::wrapped_key.eq(wrapped),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Blobs due for removal, claimed for `lease_secs` (another server skips them
/// meanwhile). Storage keys only: no tenant data.
pub fn claim_purges(
    conn: &mut PgConnection,
    limit: i64,
    lease_secs: i64,
) -> DalResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = Text)]
        storage_key: String,
    }
    let keys: Vec<Key> = diesel::sql_query(
        "UPDATE blob_purges SET not_before = now() + make_interval(secs => $2), attempts = attempts + 1 \
          WHERE storage_key IN (SELECT storage_key FROM blob_purges WHERE not_before <= now() \
                                 ORDER BY not_before LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING storage_key",
    )
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(lease_secs)
    .load(conn)?;
    Ok(keys.into_iter().map(|k| k.storage_key).collect())
}

/// A blob is gone from storage: forget it.
pub fn purged(conn: &mut PgConnection, storage_key: &str) -> DalResult<()> {
    release(conn, storage_key)
}

/// Removing a blob failed: keep it queued, with the error, and try again later.
pub fn purge_failed(conn: &mut PgConnection, storage_key: &str, error: &str) -> DalResult<()> {
    let error: String = error.chars().take(500).collect();
    diesel::update(blob_purges::table.find(storage_key))
        .set(blob_purges::last_error.eq(error))
        .execute(conn)?;
    Ok(())
}
