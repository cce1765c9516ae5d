-- Dropping the schema drops bi.current_org and, with it, the policies that use it.
DROP SCHEMA bi CASCADE;
DROP TABLE bi_logins;
DROP POLICY IF EXISTS app_all ON organizations; DROP POLICY IF EXISTS bi_org ON organizations;
DROP POLICY IF EXISTS app_all ON workspaces; DROP POLICY IF EXISTS bi_org ON workspaces;
DROP POLICY IF EXISTS app_all ON projects; DROP POLICY IF EXISTS bi_org ON projects;
DROP POLICY IF EXISTS app_all ON slices; DROP POLICY IF EXISTS bi_org ON slices;
DROP POLICY IF EXISTS app_all ON boxes; DROP POLICY IF EXISTS bi_org ON boxes;
DROP POLICY IF EXISTS app_all ON tasks; DROP POLICY IF EXISTS bi_org ON tasks;
DROP POLICY IF EXISTS app_all ON task_assignees; DROP POLICY IF EXISTS bi_org ON task_assignees;
DROP POLICY IF EXISTS app_all ON task_dependencies; DROP POLICY IF EXISTS bi_org ON task_dependencies;
DROP POLICY IF EXISTS app_all ON memberships; DROP POLICY IF EXISTS bi_org ON memberships;
DROP POLICY IF EXISTS app_all ON users; DROP POLICY IF EXISTS bi_org ON users;
ALTER TABLE organizations DISABLE ROW LEVEL SECURITY;
ALTER TABLE workspaces DISABLE ROW LEVEL SECURITY;
ALTER TABLE projects DISABLE ROW LEVEL SECURITY;
ALTER TABLE slices DISABLE ROW LEVEL SECURITY;
ALTER TABLE boxes DISABLE ROW LEVEL SECURITY;
ALTER TABLE tasks DISABLE ROW LEVEL SECURITY;
ALTER TABLE task_assignees DISABLE ROW LEVEL SECURITY;
ALTER TABLE task_dependencies DISABLE ROW LEVEL SECURITY;
ALTER TABLE memberships DISABLE ROW LEVEL SECURITY;
ALTER TABLE users DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON organizations, workspaces, projects, slices, boxes, tasks, task_assignees,
    task_dependencies, memberships, users FROM crust_bi_reader;
-- Column grants go with REVOKE ALL on the table too.
REVOKE USAGE ON SCHEMA public FROM crust_bi_reader;
DROP TRIGGER task_status_history_track ON tasks;
DROP FUNCTION public.task_status_history_track();
DROP TABLE task_status_history;
