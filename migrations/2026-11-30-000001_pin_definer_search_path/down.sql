-- The definitions of 2026-11-23-000003_audit, as they were.
CREATE OR REPLACE FUNCTION audit_events_link() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    head_seq  bigint := 0;
    head_hash bytea := decode(repeat('00', 32), 'hex');
BEGIN
    SELECT seq, hash INTO head_seq, head_hash
      FROM audit_chain_heads WHERE chain = NEW.chain FOR UPDATE;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := decode(repeat('00', 32), 'hex');
    END IF;
    IF NEW.seq <> head_seq + 1 OR NEW.prev_hash <> head_hash THEN
        RAISE EXCEPTION 'audit event % does not continue its chain (head is #%)', NEW.id, head_seq;
    END IF;
    INSERT INTO audit_chain_heads (chain, seq, hash) VALUES (NEW.chain, NEW.seq, NEW.hash)
        ON CONFLICT (chain) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION audit_events_link() FROM PUBLIC;

CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- `crust audit prune` (which sets crust.audit_prune for its transaction) may
    -- reduce the IP of an unpruned event to its network, blank its user agent and drop
    -- its salt: exactly that, nothing else.
    IF TG_OP = 'UPDATE'
       AND current_setting('crust.audit_prune', true) = 'on'
       AND OLD.pruned_at IS NULL AND NEW.pruned_at IS NOT NULL AND NEW.client_salt IS NULL
       AND NEW.ip IS NOT DISTINCT FROM audit_pseudonymize_ip(OLD.ip)
       AND NEW.user_agent IS NOT DISTINCT FROM
           (CASE WHEN OLD.user_agent IS NULL THEN NULL ELSE '[pruned]' END)
       AND to_jsonb(NEW) - ARRAY['ip', 'user_agent', 'client_salt', 'pruned_at']
           = to_jsonb(OLD) - ARRAY['ip', 'user_agent', 'client_salt', 'pruned_at']
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
