DROP TRIGGER tasks_announce_changes ON tasks;
DROP FUNCTION crust_task_changed();
