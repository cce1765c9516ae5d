-- The BI data dictionary (COMMENT ON): possessives lost their apostrophes in
-- 2026-11-30-000003_bi; `crust bi describe` prints these texts.
COMMENT ON COLUMN bi.slices.project_name IS 'Its project''s name.';
COMMENT ON COLUMN bi.boxes.slice_name IS 'Its slice''s name.';
COMMENT ON COLUMN bi.boxes.project_name IS 'Its project''s name.';
COMMENT ON COLUMN bi.tasks.project_name IS 'Its project''s name.';
COMMENT ON COLUMN bi.tasks.slice_name IS 'That slice''s name.';
COMMENT ON COLUMN bi.tasks.box_name IS 'That box''s name.';
COMMENT ON COLUMN bi.task_assignees.user_name IS 'The assignee''s name.';
COMMENT ON COLUMN bi.members.user_id IS 'The member''s user id.';
COMMENT ON COLUMN bi.sprints.sprint_box_id IS 'The sprint''s box (bi.boxes.id).';
COMMENT ON COLUMN bi.sprints.project_name IS 'Its project''s name.';
COMMENT ON COLUMN bi.sprints.name IS 'The sprint''s dated name.';
