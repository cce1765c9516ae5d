-- A box's (a board column's) tasks in position order: the first page is read through
-- this index and stops at its limit instead of sorting every card of the column.
CREATE INDEX tasks_box_id_position_idx ON tasks (box_id, position, id);
