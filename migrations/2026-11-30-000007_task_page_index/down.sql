DROP INDEX tasks_box_id_position_idx;
