//! In-app notifications (`me { notifications }`) and which emails a user gets. A
//! notification carries task data in the app; its email never does.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::connection::{paged, Conn};
use super::ids::{id, parse};
use super::task::Task;
use super::{actor, db};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum NotificationKind {
    /// A task you are assigned to can start: a task it depends on is DONE.
    TaskReady,
}

pub struct Notification {
    row: crust_dal::notifications::Notification,
    task: Option<crust_dal::models::Task>,
}

#[Object]
impl Notification {
    async fn id(&self) -> ID {
        id(self.row.id)
    }
    async fn kind(&self) -> NotificationKind {
        NotificationKind::TaskReady
    }
    /// The task it is about; null if you may no longer see it.
    async fn task(&self, ctx: &Context<'_>) -> Option<Task> {
        self.task.clone().map(|t| Task::served(ctx, t))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When you marked it read; null while unread.
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.row.read_at
    }
}

/// Your notifications, newest first.
pub async fn notifications(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    unread_only: bool,
) -> Result<Conn<Notification>> {
    let fetch = move |c: &mut _, a: &_, p| crust_dal::notifications::list(c, a, unread_only, p);
    Ok(paged(ctx, first, after, fetch, |(row, task)| Notification {
        row,
        task,
    })
    .await?)
}

/// Which emails you get. Security notices (password changed, new sign-in, locked
/// account, address changed, a reused sign-in token) always go out.
#[derive(SimpleObject, InputObject, Clone, Copy)]
#[graphql(input_name = "NotificationSettingsInput")]
pub struct NotificationSettings {
    /// An email when a task of yours becomes ready to start.
    pub task_ready_email: bool,
}

pub async fn settings(ctx: &Context<'_>) -> Result<NotificationSettings> {
    let actor = actor(ctx)?;
    let s = db(ctx)?
        .run(move |c| crust_dal::notifications::settings(c, &actor))
        .await?;
    Ok(NotificationSettings {
        task_ready_email: s.task_ready_email,
    })
}

#[derive(InputObject)]
pub struct MarkNotificationsReadInput {
    /// The notifications to mark read; all of yours when absent.
    pub ids: Option<Vec<ID>>,
}

#[derive(SimpleObject)]
pub struct MarkNotificationsReadPayload {
    /// How many of yours were unread and now are read.
    pub marked: i32,
}

#[derive(SimpleObject)]
pub struct UpdateNotificationSettingsPayload {
    pub settings: NotificationSettings,
}

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks your notifications read (those named, at most 100, or all).
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        input: MarkNotificationsReadInput,
    ) -> Result<MarkNotificationsReadPayload> {
        let actor = actor(ctx)?;
        let ids: Option<Vec<Uuid>> = match input.ids {
            Some(ids) if ids.len() > 100 => {
                return Err(crate::error::ApiError::BadUserInput(
                    "ids: at most 100 at a time (leave it out to mark all)".into(),
                )
                .into())
            }
            Some(ids) => Some(
                ids.iter()
                    .map(|i| parse::<Uuid>("ids", i))
                    .collect::<Result<_, _>>()?,
            ),
            None => None,
        };
        let marked = db(ctx)?
            .run(move |c| crust_dal::notifications::mark_read(c, &actor, ids.as_deref()))
            .await?;
        Ok(MarkNotificationsReadPayload {
            marked: i32::try_from(marked).unwrap_or(i32::MAX),
        })
    }

    /// Chooses which emails you get.
    async fn update_notification_settings(
        &self,
        ctx: &Context<'_>,
        input: NotificationSettings,
    ) -> Result<UpdateNotificationSettingsPayload> {
        let actor = actor(ctx)?;
        let settings = crust_dal::notifications::Settings {
            task_ready_email: input.task_ready_email,
        };
        db(ctx)?
            .run(move |c| crust_dal::notifications::update_settings(c, &actor, settings))
            .await?;
        Ok(UpdateNotificationSettingsPayload { settings: input })
    }
}
