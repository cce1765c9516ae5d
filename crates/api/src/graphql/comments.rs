//! Comments on tasks.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use crust_domain::{CommentId, TaskId};

use super::ids::{id, parse};
use super::loaders::{request_loaders, UserById};
use super::org::User;
use super::{actor, db};
use crate::markdown::to_safe_html_of;
use chrono::{DateTime, Utc};
use crust_dal::models;

#[derive(InputObject)]
pub struct AddCommentInput {
    pub task_id: ID,
    /// Markdown, up to 20,000 characters.
    pub body: String,
}

#[derive(SimpleObject)]
pub struct CommentPayload {
    pub comment: Comment,
}

#[derive(InputObject)]
pub struct EditCommentInput {
    pub comment_id: ID,
    pub body: String,
}

#[derive(InputObject)]
pub struct DeleteCommentInput {
    pub comment_id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteCommentPayload {
    pub deleted_comment_id: ID,
}

#[derive(Default)]
pub struct CommentMutation;

#[Object]
impl CommentMutation {
    /// Comments on a task you may see (guests on their granted tasks too).
    async fn add_comment(
        &self,
        ctx: &Context<'_>,
        input: AddCommentInput,
    ) -> Result<CommentPayload> {
        let actor = actor(ctx)?;
        let tid: TaskId = parse("taskId", &input.task_id)?;
        let c = db(ctx)?
            .create(move |c| crust_dal::comments::add(c, &actor, tid, &input.body))
            .await?;
        Ok(CommentPayload {
            comment: Comment(c),
        })
    }

    /// Changes your own comment.
    async fn edit_comment(
        &self,
        ctx: &Context<'_>,
        input: EditCommentInput,
    ) -> Result<CommentPayload> {
        let actor = actor(ctx)?;
        let cid: CommentId = parse("commentId", &input.comment_id)?;
        let c = db(ctx)?
            .run(move |c| crust_dal::comments::edit(c, &actor, cid, &input.body))
            .await?;
        Ok(CommentPayload {
            comment: Comment(c),
        })
    }

    /// Deletes a comment (its author, or a MANAGER of the task's project).
    async fn delete_comment(
        &self,
        ctx: &Context<'_>,
        input: DeleteCommentInput,
    ) -> Result<DeleteCommentPayload> {
        let actor = actor(ctx)?;
        let cid: CommentId = parse("commentId", &input.comment_id)?;
        db(ctx)?
            .run(move |c| crust_dal::comments::delete(c, &actor, cid))
            .await?;
        Ok(DeleteCommentPayload {
            deleted_comment_id: id(cid.0),
        })
    }
}

pub struct Comment(pub models::Comment);

/// A comment held as fetched (with its task's page), answering all but the author (a
/// loader's).
impl super::plain::Plain for crust_dal::models::Comment {
    fn plain_type_name(&self) -> std::borrow::Cow<'static, str> {
        <Comment as async_graphql::OutputType>::type_name()
    }

    fn plain_field(
        &self,
        _ctx: &Context<'_>,
        name: &str,
        out: &mut super::plain::Out,
    ) -> Option<()> {
        match name {
            "id" => out.value(&self.id),
            "taskId" => out.value(&self.task_id),
            "body" => out.value(&self.body),
            "bodyHtml" => out.value(&to_safe_html_of(self.id, &self.body)),
            "createdAt" => out.scalar(&self.created_at),
            "editedAt" => out.scalar(&self.edited_at),
            _ => None,
        }
    }
}

#[Object]
impl Comment {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn task_id(&self) -> ID {
        id(self.0.task_id)
    }
    /// Markdown.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// The body rendered to sanitized HTML.
    async fn body_html(&self) -> String {
        to_safe_html_of(self.0.id, &self.0.body)
    }
    /// The author; null once they are no longer in any organization of yours, or
    /// their account is erased ("deleted user").
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(author) = self.0.author_id else {
            return Ok(None);
        };
        Ok(request_loaders(ctx)?
            .load_one(UserById(author))
            .await?
            .map(User))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.0.edited_at
    }
}
