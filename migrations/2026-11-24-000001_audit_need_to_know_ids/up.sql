-- Every need-to-know object an event names — its target and any id among its
-- arguments (`dependsOnTaskId`, …) that was a SECRET task or project, or something
-- inside one. The event is listed only to readers who may see all of them now, so a
-- SECRET id passed as a secondary argument is no longer shown to those off its list.
-- Part of the event's hash when not empty (events without any keep their hashes).
-- Adding a column fires no row trigger: the append-only rule is untouched.
ALTER TABLE audit_events ADD COLUMN need_to_know_ids uuid[] NOT NULL DEFAULT '{}';
-- Listing reads the ids named by a chain's events; few events name any.
CREATE INDEX audit_events_chain_need_to_know_ids_idx ON audit_events (chain)
    WHERE cardinality(need_to_know_ids) > 0;
