-- Foundation: users and sessions, organizations and memberships, workspaces, projects
-- and their members, slices, boxes, tasks, assignees and grants.
--
-- Enumerations are TEXT with CHECK constraints (not PostgreSQL enums) so that adding a
-- value is a plain migration. Child rows carry their ancestors' ids (org_id, project_id)
-- with composite foreign keys, so a row can never point into another tenant and ACL
-- filters need no joins up the tree.

CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email           text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    password_hash   text NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    email_verified  boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE sessions (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id              uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at           timestamptz NOT NULL DEFAULT now(),
    last_refreshed_at    timestamptz NOT NULL DEFAULT now(),
    absolute_expires_at  timestamptz NOT NULL,
    revoked_at           timestamptz,
    revoked_reason       text CHECK (revoked_reason IN ('LOGOUT', 'REFRESH_REUSE', 'PASSWORD_CHANGED', 'DEACTIVATED', 'ADMIN')),
    ip                   text,
    user_agent           text CHECK (char_length(user_agent) <= 512),
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- One row per refresh token ever issued in a session (its family). Only the SHA-256 of
-- the token is stored; a used token that comes back is reuse and revokes the family.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

CREATE TABLE organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER', 'GUEST')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user_id_idx ON memberships (user_id);

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, org_id)
);
CREATE UNIQUE INDEX workspaces_org_name_key ON workspaces (org_id, lower(name));

CREATE TABLE projects (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id          uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workspace_id    uuid,
    name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description     text NOT NULL DEFAULT '' CHECK (char_length(description) <= 100000),
    status          text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'ON_HOLD', 'COMPLETED', 'ARCHIVED')),
    visibility      text NOT NULL DEFAULT 'ORGANIZATION' CHECK (visibility IN ('ORGANIZATION', 'MEMBERS')),
    classification  text NOT NULL DEFAULT 'CONFIDENTIAL' CHECK (classification IN ('CONFIDENTIAL', 'SECRET')),
    start_date      date,
    due_date        date,
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, org_id),
    CHECK (due_date IS NULL OR start_date IS NULL OR due_date >= start_date),
    FOREIGN KEY (workspace_id, org_id) REFERENCES workspaces (id, org_id) ON DELETE SET NULL (workspace_id)
);
CREATE INDEX projects_org_id_idx ON projects (org_id);
CREATE INDEX projects_workspace_id_org_id_idx ON projects (workspace_id, org_id);
CREATE INDEX projects_created_by_idx ON projects (created_by);

-- For a SECRET project, its members are its access list.
CREATE TABLE project_members (
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('MANAGER', 'EDITOR', 'VIEWER')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user_id_idx ON project_members (user_id);

CREATE TABLE slices (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    position    integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, project_id)
);
CREATE INDEX slices_project_id_position_idx ON slices (project_id, position);

CREATE TABLE boxes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slice_id    uuid NOT NULL,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    position    integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, project_id),
    FOREIGN KEY (slice_id, project_id) REFERENCES slices (id, project_id) ON DELETE CASCADE
);
CREATE INDEX boxes_slice_id_project_id_position_idx ON boxes (slice_id, project_id, position);
CREATE INDEX boxes_project_id_idx ON boxes (project_id);

CREATE TABLE tasks (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id          uuid NOT NULL,
    project_id      uuid NOT NULL,
    box_id          uuid,
    title           text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    description     text NOT NULL DEFAULT '' CHECK (char_length(description) <= 100000),
    status          text NOT NULL DEFAULT 'NOT_STARTED' CHECK (status IN ('NOT_STARTED', 'IN_PROGRESS', 'DONE', 'NOT_NEEDED')),
    progress        smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    classification  text NOT NULL DEFAULT 'CONFIDENTIAL' CHECK (classification IN ('CONFIDENTIAL', 'SECRET')),
    start_date      date,
    due_date        date,
    duration_days   integer CHECK (duration_days > 0),
    position        integer NOT NULL,
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'DONE' OR progress = 100),
    CHECK (status <> 'NOT_STARTED' OR progress = 0),
    CHECK (due_date IS NULL OR start_date IS NULL OR due_date >= start_date),
    FOREIGN KEY (project_id, org_id) REFERENCES projects (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (box_id, project_id) REFERENCES boxes (id, project_id) ON DELETE SET NULL (box_id)
);
CREATE INDEX tasks_project_id_org_id_idx ON tasks (project_id, org_id);
CREATE INDEX tasks_box_id_project_id_idx ON tasks (box_id, project_id);
CREATE INDEX tasks_org_id_idx ON tasks (org_id);
CREATE INDEX tasks_created_by_idx ON tasks (created_by);

CREATE TABLE task_assignees (
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, user_id)
);
CREATE INDEX task_assignees_user_id_idx ON task_assignees (user_id);

-- For a SECRET task, its grants are its access list.
CREATE TABLE task_grants (
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access      text NOT NULL CHECK (access IN ('VIEW', 'EDIT')),
    granted_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, user_id)
);
CREATE INDEX task_grants_user_id_idx ON task_grants (user_id);
CREATE INDEX task_grants_granted_by_idx ON task_grants (granted_by);
