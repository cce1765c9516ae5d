DROP INDEX audit_events_chain_need_to_know_ids_idx;
ALTER TABLE audit_events DROP COLUMN need_to_know_ids;
