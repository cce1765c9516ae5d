-- Email: an outbox written in the transaction of the change that causes a message,
-- single-use tokens for the links those messages carry (stored hashed), invitations,
-- and in-app notifications.

-- Accounts made before sign-up needed a verified address keep signing in.
UPDATE users SET email_verified = true;

-- Whether the user wants an email when a task they are assigned to becomes ready
-- (its predecessor is DONE). Security notices cannot be turned off.
ALTER TABLE users ADD COLUMN email_task_ready boolean NOT NULL DEFAULT true;

-- "Sign-in from a new device" asks whether this account has signed in from this
-- address and user agent before.
CREATE INDEX sessions_user_created ON sessions (user_id, created_at);

-- One row per message. The token of the message's link is kept only until the message
-- is sent or given up (then it is erased); its hash is what the flows check.
CREATE TABLE outbox (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    template         text NOT NULL CHECK (template IN (
                         'VERIFY_EMAIL', 'SIGN_UP_ATTEMPT', 'INVITATION', 'PASSWORD_RESET',
                         'PASSWORD_CHANGED', 'NEW_DEVICE', 'REFRESH_TOKEN_REUSED',
                         'ACCOUNT_LOCKED', 'EMAIL_CHANGED', 'CONFIRM_NEW_EMAIL', 'TASK_READY')),
    recipient        text NOT NULL CHECK (char_length(recipient) BETWEEN 3 AND 254),
    user_id          uuid REFERENCES users (id) ON DELETE CASCADE,
    greeting_name    text CHECK (char_length(greeting_name) <= 200),
    token            text CHECK (char_length(token) <= 128),
    status           text NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'SENT', 'DEAD')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text CHECK (char_length(last_error) <= 500),
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    CHECK (status = 'QUEUED' OR token IS NULL),
    CHECK ((status = 'SENT') = (sent_at IS NOT NULL))
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'QUEUED';
-- "At most one such message to this address every few minutes."
CREATE INDEX outbox_recent ON outbox (lower(recipient), template, created_at);
CREATE INDEX outbox_user ON outbox (user_id);

-- Links for one account: verify the address (sign-up; the password chosen then rides
-- along with the name, so whoever verifies sets what they chose), reset the password, confirm
-- a new address.
CREATE TABLE email_tokens (
    token_hash     bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    purpose        text NOT NULL CHECK (purpose IN ('VERIFY_EMAIL', 'RESET_PASSWORD', 'CHANGE_EMAIL')),
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email          text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    password_hash  text,
    name           text CHECK (char_length(name) BETWEEN 1 AND 200),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose) WHERE used_at IS NULL;

CREATE TABLE invitations (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email        text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    role         text NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER', 'GUEST')),
    token_hash   bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    invited_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- When its message last went to the outbox: at most one a minute per invitation.
    sent_at      timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    accepted_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    revoked_at   timestamptz,
    CHECK (accepted_at IS NULL OR revoked_at IS NULL)
);
CREATE INDEX invitations_invited_by ON invitations (invited_by, sent_at);
CREATE INDEX invitations_accepted_by ON invitations (accepted_by);
-- One open invitation per address and organization: inviting again renews it.
CREATE UNIQUE INDEX invitations_open ON invitations (org_id, lower(email))
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

CREATE TABLE notifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('TASK_READY')),
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz
);
CREATE INDEX notifications_user ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_task ON notifications (task_id);
-- One unread notification per user and task: finishing a task again and again adds none.
CREATE UNIQUE INDEX notifications_unread ON notifications (user_id, task_id) WHERE read_at IS NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON outbox, email_tokens, invitations, notifications TO crust_app;
