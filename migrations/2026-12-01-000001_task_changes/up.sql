-- Every change to a task is announced on the channel `crust_task_changes`, so that
-- each server instance can tell its live subscribers (graphql-ws) about changes made
-- through any instance. The payload holds ids only: each instance checks, for each
-- receiver, whether they may see the task now before telling them anything.
--
-- Keys: o = org, p = project, t = task, b = box after the change, ob = box before it
-- (when the task moved), s = slice of b, os = slice of ob, op = I/U/D. A deleted task
-- cannot be checked any more; `secret` says whether it was need-to-know, and such a
-- deletion is told to nobody (who may see a SECRET task is its grant list, gone with it).
CREATE FUNCTION crust_task_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  row_now tasks;
  payload jsonb;
BEGIN
  IF TG_OP = 'DELETE' THEN
    row_now := OLD;
  ELSE
    row_now := NEW;
  END IF;
  payload := jsonb_build_object(
    'op', left(TG_OP, 1),
    'o', row_now.org_id,
    'p', row_now.project_id,
    't', row_now.id,
    'b', row_now.box_id,
    's', (SELECT slice_id FROM boxes WHERE id = row_now.box_id)
  );
  IF TG_OP = 'UPDATE' AND OLD.box_id IS DISTINCT FROM NEW.box_id THEN
    payload := payload || jsonb_build_object(
      'ob', OLD.box_id,
      'os', (SELECT slice_id FROM boxes WHERE id = OLD.box_id)
    );
  END IF;
  IF TG_OP = 'DELETE' THEN
    payload := payload || jsonb_build_object('secret', OLD.classification = 'SECRET');
  END IF;
  PERFORM pg_notify('crust_task_changes', payload::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER tasks_announce_changes AFTER INSERT OR UPDATE OR DELETE ON tasks
  FOR EACH ROW EXECUTE FUNCTION crust_task_changed();
