DROP TABLE notifications;
DROP TABLE invitations;
DROP TABLE email_tokens;
DROP TABLE outbox;
DROP INDEX sessions_user_created;
ALTER TABLE users DROP COLUMN email_task_ready;
