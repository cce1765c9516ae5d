-- The Pie domain: boards and sprints, dependencies, comments, recipes, search.

-- Boards: a box can be a board column; one column per board (slice) is its done column.
ALTER TABLE boxes
    ADD COLUMN board_column boolean NOT NULL DEFAULT false,
    ADD COLUMN done_column  boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT boxes_done_is_a_column CHECK (NOT done_column OR board_column);
CREATE UNIQUE INDEX boxes_one_done_column_per_slice ON boxes (slice_id) WHERE done_column;

-- A task made from a recipe remembers its role placeholder, so that saving the
-- project back as a recipe keeps it.
ALTER TABLE tasks ADD COLUMN recipe_role text CHECK (char_length(recipe_role) BETWEEN 1 AND 100);

-- Full-text search over title and description.
ALTER TABLE tasks ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || description)) STORED;
CREATE INDEX tasks_search_idx ON tasks USING gin (search);
CREATE INDEX tasks_org_id_due_date_idx ON tasks (org_id, due_date);

-- Dependencies and comments name their task together with its organization, so the
-- database itself refuses a link between two tenants.
ALTER TABLE tasks ADD CONSTRAINT tasks_id_org_id_key UNIQUE (id, org_id);

CREATE TABLE task_dependencies (
    task_id             uuid NOT NULL,
    depends_on_task_id  uuid NOT NULL,
    org_id              uuid NOT NULL,
    kind                text NOT NULL DEFAULT 'FINISH_TO_START'
                        CHECK (kind IN ('FINISH_TO_START', 'START_TO_START', 'FINISH_TO_FINISH')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, depends_on_task_id),
    CHECK (task_id <> depends_on_task_id),
    FOREIGN KEY (task_id, org_id) REFERENCES tasks (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (depends_on_task_id, org_id) REFERENCES tasks (id, org_id) ON DELETE CASCADE
);
CREATE INDEX task_dependencies_task_id_org_id_idx ON task_dependencies (task_id, org_id);
CREATE INDEX task_dependencies_depends_on_org_id_idx ON task_dependencies (depends_on_task_id, org_id);

CREATE TABLE comments (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id     uuid NOT NULL,
    org_id      uuid NOT NULL,
    author_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    body        text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 20000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    edited_at   timestamptz,
    FOREIGN KEY (task_id, org_id) REFERENCES tasks (id, org_id) ON DELETE CASCADE
);
CREATE INDEX comments_task_id_org_id_created_at_idx ON comments (task_id, org_id, created_at);
CREATE INDEX comments_author_id_idx ON comments (author_id);

-- Recipes: templates with a project's structure. Dates are relative (days from the
-- project's start) and assignees are role placeholders filled when a project is made.
CREATE TABLE recipes (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id        uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workspace_id  uuid,
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description   text NOT NULL DEFAULT '' CHECK (char_length(description) <= 100000),
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, org_id),
    FOREIGN KEY (workspace_id, org_id) REFERENCES workspaces (id, org_id) ON DELETE SET NULL (workspace_id)
);
CREATE INDEX recipes_org_id_idx ON recipes (org_id);
CREATE INDEX recipes_workspace_id_org_id_idx ON recipes (workspace_id, org_id);
CREATE INDEX recipes_created_by_idx ON recipes (created_by);

CREATE TABLE recipe_slices (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    recipe_id  uuid NOT NULL REFERENCES recipes (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    position   integer NOT NULL
);
CREATE INDEX recipe_slices_recipe_id_idx ON recipe_slices (recipe_id, position);

CREATE TABLE recipe_boxes (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slice_id      uuid NOT NULL REFERENCES recipe_slices (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    position      integer NOT NULL,
    board_column  boolean NOT NULL DEFAULT false,
    done_column   boolean NOT NULL DEFAULT false
);
CREATE INDEX recipe_boxes_slice_id_idx ON recipe_boxes (slice_id, position);

CREATE TABLE recipe_tasks (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    box_id            uuid NOT NULL REFERENCES recipe_boxes (id) ON DELETE CASCADE,
    title             text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    description       text NOT NULL DEFAULT '' CHECK (char_length(description) <= 100000),
    position          integer NOT NULL,
    start_offset_days integer,
    due_offset_days   integer,
    duration_days     integer CHECK (duration_days > 0),
    role              text CHECK (char_length(role) BETWEEN 1 AND 100),
    CHECK (due_offset_days IS NULL OR start_offset_days IS NULL OR due_offset_days >= start_offset_days)
);
CREATE INDEX recipe_tasks_box_id_idx ON recipe_tasks (box_id, position);

CREATE TABLE recipe_task_dependencies (
    task_id             uuid NOT NULL REFERENCES recipe_tasks (id) ON DELETE CASCADE,
    depends_on_task_id  uuid NOT NULL REFERENCES recipe_tasks (id) ON DELETE CASCADE,
    kind                text NOT NULL DEFAULT 'FINISH_TO_START'
                        CHECK (kind IN ('FINISH_TO_START', 'START_TO_START', 'FINISH_TO_FINISH')),
    PRIMARY KEY (task_id, depends_on_task_id),
    CHECK (task_id <> depends_on_task_id)
);
CREATE INDEX recipe_task_dependencies_depends_on_idx ON recipe_task_dependencies (depends_on_task_id);
