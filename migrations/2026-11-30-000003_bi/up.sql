-- BI: read-only views of one organization's data for its BI login (`crust bi grant`),
-- behind two walls: the views (security_barrier, filtered to the login's organization,
-- SECRET work left out) and row-level security on the base tables they read.
--
-- Which organization a BI login reads comes from `bi_logins`, which BI logins cannot
-- read or write, keyed by session_user (no SET changes it). The views are owned by
-- `crust_bi_reader`, a NOLOGIN role that is not the tables' owner, so the base tables'
-- row-level security applies to every read a view makes. BI logins are members of
-- `crust_bi` and get USAGE on `bi` and SELECT on its views only. No function here is
-- LEAKPROOF.

DO $$
BEGIN
    CREATE ROLE crust_bi NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
DO $$
BEGIN
    CREATE ROLE crust_bi_reader NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
-- The migrating login hands the views to crust_bi_reader and grants BI logins
-- crust_bi (a superuser always can; a CREATEROLE login needs to be a member).
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        GRANT crust_bi_reader TO CURRENT_USER;
        GRANT crust_bi TO CURRENT_USER WITH ADMIN OPTION;
    END IF;
END
$$;

-- Time in each status: one row per stay, kept by a trigger on tasks.
CREATE TABLE task_status_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    status      text NOT NULL CHECK (status IN ('NOT_STARTED', 'IN_PROGRESS', 'DONE', 'NOT_NEEDED')),
    entered_at  timestamptz NOT NULL DEFAULT now(),
    left_at     timestamptz,
    CHECK (left_at IS NULL OR left_at >= entered_at)
);
CREATE INDEX task_status_history_task ON task_status_history (task_id, entered_at);
CREATE INDEX task_status_history_org ON task_status_history (org_id, entered_at);
-- Tasks that exist already start their history now.
INSERT INTO task_status_history (task_id, org_id, status, entered_at)
    SELECT id, org_id, status, updated_at FROM tasks;

CREATE FUNCTION public.task_status_history_track() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.status IS NOT DISTINCT FROM OLD.status THEN
            RETURN NEW;
        END IF;
        UPDATE public.task_status_history SET left_at = now()
         WHERE task_id = NEW.id AND left_at IS NULL;
    END IF;
    INSERT INTO public.task_status_history (task_id, org_id, status)
        VALUES (NEW.id, NEW.org_id, NEW.status);
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION public.task_status_history_track() FROM PUBLIC;
CREATE TRIGGER task_status_history_track AFTER INSERT OR UPDATE OF status ON tasks
    FOR EACH ROW EXECUTE FUNCTION public.task_status_history_track();
GRANT SELECT, INSERT, UPDATE, DELETE ON task_status_history TO crust_app;

-- Which organization each BI login reads. Only the owner writes it (`crust bi`).
CREATE TABLE bi_logins (
    role_name         text PRIMARY KEY CHECK (role_name ~ '^crust_bi_[a-z0-9_]{1,40}$'),
    org_id            uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    allow             text[] NOT NULL DEFAULT '{}',
    connection_limit  integer NOT NULL CHECK (connection_limit BETWEEN 1 AND 100),
    created_at        timestamptz NOT NULL DEFAULT now(),
    rotated_at        timestamptz
);
-- One login per organization (two grants at once cannot both make one).
CREATE UNIQUE INDEX bi_logins_org ON bi_logins (org_id);
REVOKE ALL ON bi_logins FROM crust_app;

CREATE SCHEMA bi;
COMMENT ON SCHEMA bi IS 'Read-only views of one organization''s data for its BI login. SECRET projects and tasks never appear.';

-- The organization of the BI login this session belongs to (NULL for anyone else).
-- SECURITY DEFINER: BI logins cannot read bi_logins themselves.
CREATE FUNCTION bi.current_org() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT l.org_id FROM public.bi_logins l WHERE l.role_name = session_user
$$;
REVOKE ALL ON FUNCTION bi.current_org() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bi.current_org() TO crust_bi_reader, crust_bi;
COMMENT ON FUNCTION bi.current_org() IS 'The organization the connected BI login may read.';

-- Row-level security: the second wall. The server (crust_app) keeps every row; the
-- views' owner sees one organization's non-SECRET rows; every other role but the
-- owner (and superusers) sees nothing.
-- Only the columns the views show (never an email, a password hash or a description).
GRANT USAGE ON SCHEMA public TO crust_bi_reader;
GRANT SELECT (id, name) ON organizations TO crust_bi_reader;
GRANT SELECT (id, org_id, name) ON workspaces TO crust_bi_reader;
GRANT SELECT (id, org_id, name, status, workspace_id, visibility, classification,
    start_date, due_date, created_at, updated_at) ON projects TO crust_bi_reader;
GRANT SELECT (id, project_id, name, position) ON slices TO crust_bi_reader;
GRANT SELECT (id, slice_id, project_id, name, position, board_column, done_column,
    created_at) ON boxes TO crust_bi_reader;
GRANT SELECT (id, org_id, project_id, box_id, title, status, progress, classification,
    start_date, due_date, duration_days, created_at, updated_at) ON tasks TO crust_bi_reader;
GRANT SELECT (task_id, user_id, created_at) ON task_assignees TO crust_bi_reader;
GRANT SELECT (task_id, depends_on_task_id, org_id, kind, created_at) ON task_dependencies TO crust_bi_reader;
GRANT SELECT (org_id, user_id, role, created_at) ON memberships TO crust_bi_reader;
GRANT SELECT (id, name) ON users TO crust_bi_reader;
GRANT SELECT (id, task_id, org_id, status, entered_at, left_at) ON task_status_history TO crust_bi_reader;

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE slices ENABLE ROW LEVEL SECURITY;
ALTER TABLE boxes ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_assignees ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_dependencies ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_status_history ENABLE ROW LEVEL SECURITY;

CREATE POLICY app_all ON organizations TO crust_app USING (true) WITH CHECK (true);
CREATE POLICY app_all ON workspaces TO crust_app USING (true) WITH CHECK (true);
CREATE POLICY app_all ON projects TO crust_app USING (true) WITH CHECK (true);
CREATE POLICY app_all ON slices TO crust_app USING (true) WITH CHECK (true);
CREATE POLICY app_all ON boxes TO crust_app USING (true) WITH CHECK (true);
CREATE POLICY app_all ON tasks TO crust_app USING (true) WITH CHECK (true);
CREATE POLICY app_all ON task_assignees TO crust_app USING (true) WITH CHECK (true);
CREATE POLICY app_all ON task_dependencies TO crust_app USING (true) WITH CHECK (true);
CREATE POLICY app_all ON memberships TO crust_app USING (true) WITH CHECK (true);
CREATE POLICY app_all ON users TO crust_app USING (true) WITH CHECK (true);
CREATE POLICY app_all ON task_status_history TO crust_app USING (true) WITH CHECK (true);

CREATE POLICY bi_org ON organizations FOR SELECT TO crust_bi_reader
    USING (id = bi.current_org());
CREATE POLICY bi_org ON workspaces FOR SELECT TO crust_bi_reader
    USING (org_id = bi.current_org());
CREATE POLICY bi_org ON projects FOR SELECT TO crust_bi_reader
    USING (org_id = bi.current_org() AND classification <> 'SECRET');
CREATE POLICY bi_org ON slices FOR SELECT TO crust_bi_reader
    USING (project_id IN (SELECT id FROM projects));
CREATE POLICY bi_org ON boxes FOR SELECT TO crust_bi_reader
    USING (project_id IN (SELECT id FROM projects));
CREATE POLICY bi_org ON tasks FOR SELECT TO crust_bi_reader
    USING (org_id = bi.current_org() AND classification <> 'SECRET'
           AND project_id IN (SELECT id FROM projects));
CREATE POLICY bi_org ON task_assignees FOR SELECT TO crust_bi_reader
    USING (task_id IN (SELECT id FROM tasks));
CREATE POLICY bi_org ON task_dependencies FOR SELECT TO crust_bi_reader
    USING (org_id = bi.current_org() AND task_id IN (SELECT id FROM tasks)
           AND depends_on_task_id IN (SELECT id FROM tasks));
CREATE POLICY bi_org ON memberships FOR SELECT TO crust_bi_reader
    USING (org_id = bi.current_org());
CREATE POLICY bi_org ON users FOR SELECT TO crust_bi_reader
    USING (id IN (SELECT user_id FROM memberships));
CREATE POLICY bi_org ON task_status_history FOR SELECT TO crust_bi_reader
    USING (task_id IN (SELECT id FROM tasks));

-- The views. Each filters to the login's organization and leaves SECRET work out by
-- itself (the first wall); row-level security filters the same again underneath.
-- Each body sits under OFFSET 0, a fence the planner pushes no condition through: a
-- security barrier still lets leakproof conditions (uuid or text equality) reach the
-- base tables, where EXPLAIN ANALYZE's "Rows Removed by Filter" would count rows of
-- other organizations or SECRET ones matching a probe (`WHERE id = '…'`). And each
-- groups by its rows' keys (which changes no row): the planner does not read the base
-- tables' statistics through a grouped subquery, so even plain EXPLAIN's estimates
-- cannot tell whether a value (a title, a name) is common among rows the login may not
-- see.
CREATE VIEW bi.projects WITH (security_barrier) AS
SELECT * FROM (
    SELECT p.id, p.name, p.status, w.name AS workspace_name, p.visibility,
           p.start_date, p.due_date, p.created_at, p.updated_at
      FROM public.projects p
      LEFT JOIN public.workspaces w ON w.id = p.workspace_id
     WHERE p.org_id = bi.current_org() AND p.classification <> 'SECRET'
    GROUP BY p.id, w.name
    OFFSET 0) AS fenced;

CREATE VIEW bi.slices WITH (security_barrier) AS
SELECT * FROM (
    SELECT s.id, s.project_id, p.name AS project_name, s.name, s.position
      FROM public.slices s
      JOIN public.projects p ON p.id = s.project_id
     WHERE p.org_id = bi.current_org() AND p.classification <> 'SECRET'
    GROUP BY s.id, p.name
    OFFSET 0) AS fenced;

CREATE VIEW bi.boxes WITH (security_barrier) AS
SELECT * FROM (
    SELECT b.id, b.slice_id, s.name AS slice_name, b.project_id, p.name AS project_name,
           b.name, b.position, b.board_column, b.done_column
      FROM public.boxes b
      JOIN public.slices s ON s.id = b.slice_id
      JOIN public.projects p ON p.id = b.project_id
     WHERE p.org_id = bi.current_org() AND p.classification <> 'SECRET'
    GROUP BY b.id, s.name, p.name
    OFFSET 0) AS fenced;

CREATE VIEW bi.tasks WITH (security_barrier) AS
SELECT * FROM (
    SELECT t.id, t.project_id, p.name AS project_name, b.slice_id, s.name AS slice_name,
           t.box_id, b.name AS box_name, t.title, t.status, t.progress,
           t.start_date, t.due_date, t.duration_days, t.created_at, t.updated_at
      FROM public.tasks t
      JOIN public.projects p ON p.id = t.project_id
      LEFT JOIN public.boxes b ON b.id = t.box_id
      LEFT JOIN public.slices s ON s.id = b.slice_id
     WHERE t.org_id = bi.current_org() AND p.org_id = bi.current_org()
       AND t.classification <> 'SECRET' AND p.classification <> 'SECRET'
    GROUP BY t.id, p.name, b.slice_id, s.name, b.name
    OFFSET 0) AS fenced;

CREATE VIEW bi.task_assignees WITH (security_barrier) AS
SELECT * FROM (
    SELECT a.task_id, a.user_id, u.name AS user_name, a.created_at AS assigned_at
      FROM public.task_assignees a
      JOIN bi.tasks t ON t.id = a.task_id
      JOIN public.users u ON u.id = a.user_id
    GROUP BY a.task_id, a.user_id, u.name
    OFFSET 0) AS fenced;

CREATE VIEW bi.task_dependencies WITH (security_barrier) AS
SELECT * FROM (
    SELECT d.task_id, d.depends_on_task_id, d.kind AS dependency_type, d.created_at
      FROM public.task_dependencies d
      JOIN bi.tasks t ON t.id = d.task_id
      JOIN bi.tasks o ON o.id = d.depends_on_task_id
     WHERE d.org_id = bi.current_org()
    GROUP BY d.task_id, d.depends_on_task_id
    OFFSET 0) AS fenced;

-- The duration-weighted rollup, by the same rule as the API (crust_domain::progress):
-- a task without a duration weighs one day, NOT_NEEDED does not count, DONE counts 100.
CREATE VIEW bi.project_progress WITH (security_barrier) AS
SELECT * FROM (
    SELECT p.id AS project_id, p.name AS project_name,
           count(t.id) AS task_count,
           count(t.id) FILTER (WHERE t.status <> 'NOT_NEEDED') AS counted_task_count,
           round((sum(coalesce(t.duration_days, 1) * CASE WHEN t.status = 'DONE' THEN 100 ELSE t.progress END)
                      FILTER (WHERE t.status <> 'NOT_NEEDED'))::numeric
                 / nullif(sum(coalesce(t.duration_days, 1)) FILTER (WHERE t.status <> 'NOT_NEEDED'), 0), 4)
               AS progress
      FROM bi.projects p
      LEFT JOIN bi.tasks t ON t.project_id = p.id
     GROUP BY p.id, p.name
    OFFSET 0) AS fenced;

CREATE VIEW bi.members WITH (security_barrier) AS
SELECT * FROM (
    SELECT m.user_id, u.name, m.role, m.created_at AS joined_at
      FROM public.memberships m
      JOIN public.users u ON u.id = m.user_id
     WHERE m.org_id = bi.current_org()
    GROUP BY m.org_id, m.user_id, u.name
    OFFSET 0) AS fenced;

-- A finished sprint is a dated box of a project's "Done Sprints" slice (see
-- crust_domain::sprint); its tasks are in bi.tasks with that box_id.
CREATE VIEW bi.sprints WITH (security_barrier) AS
SELECT * FROM (
    SELECT b.id AS sprint_box_id, b.project_id, b.project_name, b.name,
           bx.created_at AS finished_at,
           (SELECT count(*) FROM bi.tasks t WHERE t.box_id = b.id) AS task_count
      FROM bi.boxes b
      JOIN public.boxes bx ON bx.id = b.id
     WHERE b.slice_name = 'Done Sprints'
    GROUP BY b.id, b.project_id, b.project_name, b.name, bx.created_at
    OFFSET 0) AS fenced;

CREATE VIEW bi.task_status_history WITH (security_barrier) AS
SELECT * FROM (
    SELECT h.task_id, h.status, h.entered_at, h.left_at,
           round((extract(epoch FROM (coalesce(h.left_at, now()) - h.entered_at)) / 3600)::numeric, 3)
               AS hours_in_status
      FROM public.task_status_history h
      JOIN bi.tasks t ON t.id = h.task_id
     WHERE h.org_id = bi.current_org()
    GROUP BY h.id
    OFFSET 0) AS fenced;

-- A new owner needs CREATE on the schema (for the moment of the change only).
GRANT CREATE ON SCHEMA bi TO crust_bi_reader;
ALTER VIEW bi.projects OWNER TO crust_bi_reader;
ALTER VIEW bi.slices OWNER TO crust_bi_reader;
ALTER VIEW bi.boxes OWNER TO crust_bi_reader;
ALTER VIEW bi.tasks OWNER TO crust_bi_reader;
ALTER VIEW bi.task_assignees OWNER TO crust_bi_reader;
ALTER VIEW bi.task_dependencies OWNER TO crust_bi_reader;
ALTER VIEW bi.project_progress OWNER TO crust_bi_reader;
ALTER VIEW bi.members OWNER TO crust_bi_reader;
ALTER VIEW bi.sprints OWNER TO crust_bi_reader;
ALTER VIEW bi.task_status_history OWNER TO crust_bi_reader;
REVOKE CREATE ON SCHEMA bi FROM crust_bi_reader;

GRANT USAGE ON SCHEMA bi TO crust_bi, crust_bi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA bi TO crust_bi;

-- The data dictionary (`crust bi describe` prints it).
COMMENT ON VIEW bi.projects IS 'Projects of the organization (SECRET ones left out).';
COMMENT ON COLUMN bi.projects.id IS 'Project id (stable).';
COMMENT ON COLUMN bi.projects.name IS 'Project name.';
COMMENT ON COLUMN bi.projects.status IS 'ACTIVE, ON_HOLD, COMPLETED or ARCHIVED.';
COMMENT ON COLUMN bi.projects.workspace_name IS 'The workspace it is filed in, if any.';
COMMENT ON COLUMN bi.projects.visibility IS 'ORGANIZATION (all members) or MEMBERS (its members only).';
COMMENT ON COLUMN bi.projects.start_date IS 'Planned start.';
COMMENT ON COLUMN bi.projects.due_date IS 'Planned end.';
COMMENT ON COLUMN bi.projects.created_at IS 'When it was created.';
COMMENT ON COLUMN bi.projects.updated_at IS 'When it last changed.';
COMMENT ON VIEW bi.slices IS 'Slices (phases or boards) of the projects in bi.projects, in order.';
COMMENT ON COLUMN bi.slices.id IS 'Slice id.';
COMMENT ON COLUMN bi.slices.project_id IS 'Its project (bi.projects.id).';
COMMENT ON COLUMN bi.slices.project_name IS 'Its projects name.';
COMMENT ON COLUMN bi.slices.name IS 'Slice name.';
COMMENT ON COLUMN bi.slices.position IS 'Order within the project, from 0.';
COMMENT ON VIEW bi.boxes IS 'Boxes (groups or board columns) of the slices in bi.slices, in order.';
COMMENT ON COLUMN bi.boxes.id IS 'Box id.';
COMMENT ON COLUMN bi.boxes.slice_id IS 'Its slice (bi.slices.id).';
COMMENT ON COLUMN bi.boxes.slice_name IS 'Its slices name.';
COMMENT ON COLUMN bi.boxes.project_id IS 'Its project.';
COMMENT ON COLUMN bi.boxes.project_name IS 'Its projects name.';
COMMENT ON COLUMN bi.boxes.name IS 'Box name.';
COMMENT ON COLUMN bi.boxes.position IS 'Order within the slice, from 0.';
COMMENT ON COLUMN bi.boxes.board_column IS 'Whether the box is a board column.';
COMMENT ON COLUMN bi.boxes.done_column IS 'Whether it is its boards done column.';
COMMENT ON VIEW bi.tasks IS 'Tasks of the projects in bi.projects (SECRET tasks left out).';
COMMENT ON COLUMN bi.tasks.id IS 'Task id.';
COMMENT ON COLUMN bi.tasks.project_id IS 'Its project.';
COMMENT ON COLUMN bi.tasks.project_name IS 'Its projects name.';
COMMENT ON COLUMN bi.tasks.slice_id IS 'Its boxs slice, if boxed.';
COMMENT ON COLUMN bi.tasks.slice_name IS 'That slices name.';
COMMENT ON COLUMN bi.tasks.box_id IS 'Its box, if any.';
COMMENT ON COLUMN bi.tasks.box_name IS 'That boxs name.';
COMMENT ON COLUMN bi.tasks.title IS 'Task title.';
COMMENT ON COLUMN bi.tasks.status IS 'NOT_STARTED, IN_PROGRESS, DONE or NOT_NEEDED.';
COMMENT ON COLUMN bi.tasks.progress IS '0 to 100 (DONE is 100, NOT_STARTED 0).';
COMMENT ON COLUMN bi.tasks.start_date IS 'Planned start.';
COMMENT ON COLUMN bi.tasks.due_date IS 'Planned end.';
COMMENT ON COLUMN bi.tasks.duration_days IS 'Planned duration in days (rollups weigh a task without one as 1 day).';
COMMENT ON COLUMN bi.tasks.created_at IS 'When it was created.';
COMMENT ON COLUMN bi.tasks.updated_at IS 'When it last changed.';
COMMENT ON VIEW bi.task_assignees IS 'Who is assigned to each task in bi.tasks (names, never emails).';
COMMENT ON COLUMN bi.task_assignees.task_id IS 'The task (bi.tasks.id).';
COMMENT ON COLUMN bi.task_assignees.user_id IS 'The assignee (bi.members.user_id).';
COMMENT ON COLUMN bi.task_assignees.user_name IS 'The assignees name.';
COMMENT ON COLUMN bi.task_assignees.assigned_at IS 'When they were assigned.';
COMMENT ON VIEW bi.task_dependencies IS 'Dependencies between tasks that are both in bi.tasks.';
COMMENT ON COLUMN bi.task_dependencies.task_id IS 'The dependent task.';
COMMENT ON COLUMN bi.task_dependencies.depends_on_task_id IS 'The task it waits for.';
COMMENT ON COLUMN bi.task_dependencies.dependency_type IS 'FINISH_TO_START, START_TO_START or FINISH_TO_FINISH.';
COMMENT ON COLUMN bi.task_dependencies.created_at IS 'When the link was made.';
COMMENT ON VIEW bi.project_progress IS 'Duration-weighted progress per project, by the API''s rule: a task without a duration weighs 1 day, NOT_NEEDED tasks do not count, DONE counts 100.';
COMMENT ON COLUMN bi.project_progress.project_id IS 'The project (bi.projects.id).';
COMMENT ON COLUMN bi.project_progress.project_name IS 'Its name.';
COMMENT ON COLUMN bi.project_progress.task_count IS 'Its tasks in bi.tasks.';
COMMENT ON COLUMN bi.project_progress.counted_task_count IS 'Those that count (all but NOT_NEEDED).';
COMMENT ON COLUMN bi.project_progress.progress IS 'Percent, 0 to 100, 4 decimals; NULL when no task counts.';
COMMENT ON VIEW bi.members IS 'Members of the organization and their roles (names, never emails).';
COMMENT ON COLUMN bi.members.user_id IS 'The members user id.';
COMMENT ON COLUMN bi.members.name IS 'Their name.';
COMMENT ON COLUMN bi.members.role IS 'OWNER, ADMIN, MEMBER or GUEST.';
COMMENT ON COLUMN bi.members.joined_at IS 'When they joined.';
COMMENT ON VIEW bi.sprints IS 'Finished sprints: the dated boxes of each project''s Done Sprints slice; their tasks are the rows of bi.tasks with box_id = sprint_box_id.';
COMMENT ON COLUMN bi.sprints.sprint_box_id IS 'The sprints box (bi.boxes.id).';
COMMENT ON COLUMN bi.sprints.project_id IS 'Its project.';
COMMENT ON COLUMN bi.sprints.project_name IS 'Its projects name.';
COMMENT ON COLUMN bi.sprints.name IS 'The sprints dated name.';
COMMENT ON COLUMN bi.sprints.finished_at IS 'When the sprint was finished.';
COMMENT ON COLUMN bi.sprints.task_count IS 'Tasks finished in it (in bi.tasks).';
COMMENT ON VIEW bi.task_status_history IS 'Each stay of each task in bi.tasks in a status, for cycle times.';
COMMENT ON COLUMN bi.task_status_history.task_id IS 'The task (bi.tasks.id).';
COMMENT ON COLUMN bi.task_status_history.status IS 'The status it was in.';
COMMENT ON COLUMN bi.task_status_history.entered_at IS 'When it entered that status.';
COMMENT ON COLUMN bi.task_status_history.left_at IS 'When it left it; NULL while it is still there.';
COMMENT ON COLUMN bi.task_status_history.hours_in_status IS 'Hours spent in the status (until now while still there).';
