-- The application's own database role, and the audit log.
--
-- The server runs as `crust_app` (it logs in as a member of it or switches to it with
-- SET ROLE on every pooled connection, see CRUST_DATABASE_ROLE). The role may read and
-- write the domain tables but only read and append the audit log: no UPDATE, DELETE or
-- TRUNCATE, and a trigger refuses them for every role besides (even the owner), except
-- the narrow pseudonymizing update that `crust audit prune` makes.
--
-- Roles are shared by every database of the cluster, so this creates it only when
-- missing and the down migration leaves it in place (other databases may use it).
-- Creating it needs a superuser or CREATEROLE; a DBA may instead create it (and grant
-- it to the login role) beforehand.
DO $$
BEGIN
    CREATE ROLE crust_app NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
-- The login role must be able to SET ROLE crust_app (a superuser always can).
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        GRANT crust_app TO CURRENT_USER;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO crust_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO crust_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO crust_app;
-- Tables later migrations create (as this same owner) are granted the same way; any
-- table that must be narrower revokes explicitly, as the audit tables below do.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO crust_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO crust_app;
-- The server only reads the migration bookkeeping (for /readyz).
REVOKE INSERT, UPDATE, DELETE ON __diesel_schema_migrations FROM crust_app;

-- One row per event. `chain` is the organization the event belongs to, or the nil
-- uuid for the global chain (sign-ins, sessions, refusals with no organization).
-- Within a chain `seq` counts from 1 and `hash` = SHA-256 over the previous event's
-- hash and this event's content (see crust_domain::audit). The client IP and user
-- agent enter the hash only through their salted digests, so `crust audit prune` can
-- pseudonymize them later without breaking the chain.
-- No foreign keys: events outlive the users, organizations and objects they name.
CREATE TABLE audit_events (
    id                 uuid PRIMARY KEY,
    chain              uuid NOT NULL,
    seq                bigint NOT NULL CHECK (seq >= 1),
    occurred_at        timestamptz NOT NULL,
    action             text NOT NULL CHECK (char_length(action) BETWEEN 1 AND 100),
    outcome            text NOT NULL CHECK (outcome IN ('ok', 'forbidden', 'invalid', 'error')),
    error_code         text,
    reason             text,
    actor_id           uuid,
    session_id         uuid,
    subject_user_id    uuid,
    organization_id    uuid,
    target_type        text,
    target_id          uuid,
    need_to_know       boolean NOT NULL DEFAULT false,
    variables          text,
    request_id         text,
    ip                 text,
    user_agent         text,
    client_salt        bytea,
    ip_digest          bytea NOT NULL CHECK (octet_length(ip_digest) = 32),
    user_agent_digest  bytea NOT NULL CHECK (octet_length(user_agent_digest) = 32),
    pruned_at          timestamptz,
    prev_hash          bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash               bytea NOT NULL CHECK (octet_length(hash) = 32),
    UNIQUE (chain, seq),
    CHECK (chain = COALESCE(organization_id, '00000000-0000-0000-0000-000000000000')),
    CHECK ((pruned_at IS NULL) = (client_salt IS NOT NULL))
);
CREATE INDEX audit_events_actor_id_idx ON audit_events (actor_id);
CREATE INDEX audit_events_subject_user_id_idx ON audit_events (subject_user_id);
CREATE INDEX audit_events_target_id_idx ON audit_events (target_id);
CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at) WHERE pruned_at IS NULL;

-- The newest link of each chain. Appenders serialize per chain on an advisory lock
-- (other chains, i.e. organizations, do not wait); the trigger below checks that each
-- new event continues its chain and advances the head, so the application never needs
-- (and is not given) the right to change a head itself.
CREATE TABLE audit_chain_heads (
    chain  uuid PRIMARY KEY,
    seq    bigint NOT NULL CHECK (seq >= 0),
    hash   bytea NOT NULL CHECK (octet_length(hash) = 32)
);

REVOKE ALL ON audit_events, audit_chain_heads FROM crust_app;
GRANT SELECT, INSERT ON audit_events TO crust_app;
GRANT SELECT ON audit_chain_heads TO crust_app;

-- Runs as the owner: an event must be the next link of its chain (number and previous
-- hash), and its chain's head moves to it. No one appends out of order or forks a chain.
CREATE FUNCTION audit_events_link() RETURNS trigger
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

CREATE TRIGGER audit_events_link
    BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_link();

-- What remains of a client address after retention: its network (IPv4 /24, IPv6 /48).
CREATE FUNCTION audit_pseudonymize_ip(ip text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    addr inet;
BEGIN
    IF ip IS NULL THEN
        RETURN NULL;
    END IF;
    addr := ip::inet;
    RETURN network(set_masklen(addr, CASE family(addr) WHEN 4 THEN 24 ELSE 48 END))::text;
EXCEPTION
    WHEN invalid_text_representation THEN RETURN 'unknown';
END
$$;

CREATE FUNCTION audit_events_append_only() RETURNS trigger
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

CREATE TRIGGER audit_events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
