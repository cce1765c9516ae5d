//! Attachments in GraphQL: listed on their task, deleted here; the bytes travel over
//! REST (`POST /tasks/{taskId}/attachments`, `GET /attachments/{id}`).

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::ids::{id, parse};
use super::loaders::{request_loaders, UserById};
use super::org::User;
use super::{actor, db};

/// A file attached to a task.
pub struct Attachment(pub crust_dal::attachments::Attachment);

#[Object]
impl Attachment {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn task_id(&self) -> ID {
        id(self.0.task_id)
    }
    /// The file's name as uploaded, made safe: no path, control characters or bidi
    /// overrides, at most 200 characters.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Bytes (at most `CRUST_UPLOAD_MAX_BYTES`, which is below 2^31).
    async fn size(&self) -> i64 {
        self.0.size_bytes
    }
    /// The media type detected from the file's content when it was uploaded.
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Who uploaded it; null once their account is gone.
    async fn uploader(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(uploader) = self.0.uploader_id else {
            return Ok(None);
        };
        Ok(request_loaders(ctx)?
            .load_one(UserById(uploader))
            .await?
            .map(User))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Where to `GET` the file, relative to the API's origin, with the same bearer
    /// token (`Range` requests supported). It is always served as a download.
    async fn download_url(&self) -> String {
        crate::http::attachments::download_path(self.0.id)
    }
}

#[derive(InputObject)]
pub struct DeleteAttachmentInput {
    pub attachment_id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteAttachmentPayload {
    pub deleted_attachment_id: ID,
}

#[derive(Default)]
pub struct AttachmentMutation;

#[Object]
impl AttachmentMutation {
    /// Deletes an attachment (its uploader, or a MANAGER of the task's project). Its
    /// encryption key is destroyed at once; the stored bytes are removed right after.
    async fn delete_attachment(
        &self,
        ctx: &Context<'_>,
        input: DeleteAttachmentInput,
    ) -> Result<DeleteAttachmentPayload> {
        let actor = actor(ctx)?;
        let aid: Uuid = parse("attachmentId", &input.attachment_id)?;
        db(ctx)?
            .run(move |c| crust_dal::attachments::delete(c, &actor, aid))
            .await?;
        if let Some(purge) = ctx.data_opt::<crate::files::purge::PurgeWake>() {
            purge.wake();
        }
        Ok(DeleteAttachmentPayload {
            deleted_attachment_id: id(aid),
        })
    }
}
