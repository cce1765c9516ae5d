//! Comments on tasks. Whoever may read a task may comment on it (guests included);
//! only the author edits a comment; the author or a project MANAGER deletes it.

use crust_domain::{decide, Action, CommentId, Decision, Object, TaskId};
use diesel::prelude::*;

use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::Comment;
use crate::schema::comments;
use crate::tasks;

pub const MAX_BODY_CHARS: usize = 20_000;

fn body(text: &str) -> DalResult<String> {
    let chars = text.chars().count();
    if text.trim().is_empty() {
        return Err(DalError::Invalid("body: must not be empty".into()));
    }
    if chars > MAX_BODY_CHARS {
        return Err(DalError::Invalid(format!(
            "body: must be at most {MAX_BODY_CHARS} characters (got {chars})"
        )));
    }
    if text.contains('\0') {
        return Err(DalError::Invalid(
            "body: must not contain NUL characters".into(),
        ));
    }
    Ok(text.to_owned())
}

/// A comment on a task the actor may read; anything else is `NotFound`.
pub fn get(conn: &mut PgConnection, actor: &Actor, id: CommentId) -> DalResult<Comment> {
    let comment: Comment = comments::table
        .find(id.0)
        .select(Comment::as_select())
        .first(conn)?;
    tasks::get(conn, actor, TaskId(comment.task_id))?;
    Ok(comment)
}

pub fn add(conn: &mut PgConnection, actor: &Actor, task: TaskId, text: &str) -> DalResult<Comment> {
    let text = body(text)?;
    conn.transaction(|conn| {
        let (task, _) =
            tasks::authorize(conn, actor, task, Action::ReadTask, "comment on this task")?;
        Ok(diesel::insert_into(comments::table)
            .values((
                comments::task_id.eq(task.id),
                comments::org_id.eq(task.org_id),
                comments::author_id.eq(actor.uid()),
                comments::body.eq(&text),
            ))
            .returning(Comment::as_returning())
            .get_result(conn)?)
    })
}

pub fn edit(
    conn: &mut PgConnection,
    actor: &Actor,
    id: CommentId,
    text: &str,
) -> DalResult<Comment> {
    let text = body(text)?;
    conn.transaction(|conn| {
        let comment = get(conn, actor, id)?;
        if comment.author_id != Some(actor.uid()) {
            return Err(DalError::forbidden("only its author may edit a comment"));
        }
        Ok(diesel::update(comments::table.find(id.0))
            .set((
                comments::body.eq(&text),
                comments::edited_at.eq(diesel::dsl::now),
            ))
            .returning(Comment::as_returning())
            .get_result(conn)?)
    })
}

pub fn delete(conn: &mut PgConnection, actor: &Actor, id: CommentId) -> DalResult<()> {
    conn.transaction(|conn| {
        let comment = get(conn, actor, id)?;
        if comment.author_id != Some(actor.uid()) {
            let task = tasks::get(conn, actor, TaskId(comment.task_id))?;
            let project: crate::models::Project = crate::schema::projects::table
                .find(task.project_id)
                .select(crate::models::Project::as_select())
                .first(conn)?;
            let facts = crate::projects::facts(conn, actor, &project)?;
            if decide(Action::ManageProjectMembers, Object::Project(facts)) != Decision::Allow {
                return Err(DalError::forbidden(
                    "only its author or a project MANAGER may delete a comment",
                ));
            }
        }
        diesel::delete(comments::table.find(id.0)).execute(conn)?;
        Ok(())
    })
}
