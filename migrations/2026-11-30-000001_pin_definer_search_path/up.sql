-- A SECURITY DEFINER function runs with its owner's rights but in the caller's session,
-- and a search_path without pg_temp still searches the caller's temporary schema
-- first. So `search_path = pg_catalog, public` let crust_app shadow audit_chain_heads
-- with a temporary table of its own: the link trigger then read a head of the
-- caller's choosing and advanced that one, accepting forged or out-of-order events and
-- leaving the real head behind. pg_temp goes last and every name is qualified, so only
-- the owner's objects are ever read or written.
CREATE OR REPLACE FUNCTION public.audit_events_link() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    head_seq  bigint := 0;
    head_hash bytea := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex');
BEGIN
    SELECT h.seq, h.hash INTO head_seq, head_hash
      FROM public.audit_chain_heads h WHERE h.chain = NEW.chain FOR UPDATE;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex');
    END IF;
    IF NEW.seq <> head_seq + 1 OR NEW.prev_hash <> head_hash THEN
        RAISE EXCEPTION 'audit event % does not continue its chain (head is #%)', NEW.id, head_seq;
    END IF;
    INSERT INTO public.audit_chain_heads (chain, seq, hash)
        VALUES (NEW.chain, NEW.seq, NEW.hash)
        ON CONFLICT (chain) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION public.audit_events_link() FROM PUBLIC;

-- Not a definer function, but the owner runs it too (and `crust audit prune` relies on
-- it): pinned the same way, so no session's objects stand in for the pseudonymizer.
CREATE OR REPLACE FUNCTION public.audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    -- `crust audit prune` (which sets crust.audit_prune for its transaction) may
    -- reduce the IP of an unpruned event to its network, blank its user agent and drop
    -- its salt: exactly that, nothing else.
    IF TG_OP = 'UPDATE'
       AND pg_catalog.current_setting('crust.audit_prune', true) = 'on'
       AND OLD.pruned_at IS NULL AND NEW.pruned_at IS NOT NULL AND NEW.client_salt IS NULL
       AND NEW.ip IS NOT DISTINCT FROM public.audit_pseudonymize_ip(OLD.ip)
       AND NEW.user_agent IS NOT DISTINCT FROM
           (CASE WHEN OLD.user_agent IS NULL THEN NULL ELSE '[pruned]' END)
       AND pg_catalog.to_jsonb(NEW) - ARRAY['ip', 'user_agent', 'client_salt', 'pruned_at']
           = pg_catalog.to_jsonb(OLD) - ARRAY['ip', 'user_agent', 'client_salt', 'pruned_at']
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
