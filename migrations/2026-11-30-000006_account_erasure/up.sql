-- When an account's personal data was erased (name, address and password gone; the
-- row stays so shared work keeps pointing at "deleted user"). Erasure is final: once
-- set, neither the mark nor the erased fields may change back, so no one (the server's
-- login included) can mark an account erased for a moment to reach the function below.
ALTER TABLE users ADD COLUMN erased_at timestamptz;

CREATE FUNCTION public.users_erasure_is_final() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF NEW.erased_at IS DISTINCT FROM OLD.erased_at
       OR NEW.active OR NEW.email_verified
       OR NEW.email IS DISTINCT FROM OLD.email
       OR NEW.name IS DISTINCT FROM OLD.name
       OR NEW.password_hash IS DISTINCT FROM OLD.password_hash
    THEN
        RAISE EXCEPTION 'account % is erased: erasure cannot be undone', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER users_erasure_is_final
    BEFORE UPDATE ON users
    FOR EACH ROW WHEN (OLD.erased_at IS NOT NULL)
    EXECUTE FUNCTION public.users_erasure_is_final();

-- The server's login may pseudonymize the events an erased account acted in, only the
-- way `crust audit prune` does (the IP cut to its network, the user agent blanked, the
-- salt dropped), so every chain stays verifiable. Events others acted in (an admin's
-- change to the account, someone's failed sign-in against it) keep their client details
-- until retention prunes them: they are those others' data. The server's login has no
-- UPDATE on audit_events: this owner-run function is its only way, and it refuses for an
-- account that is not erased (for good, see above).
CREATE FUNCTION public.audit_pseudonymize_erased_user(p_user uuid) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public.users u
                    WHERE u.id = p_user AND NOT u.active AND u.erased_at IS NOT NULL) THEN
        RAISE EXCEPTION 'only an erased account''s events may be pseudonymized'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM pg_catalog.set_config('crust.audit_prune', 'on', true);
    UPDATE public.audit_events
       SET ip = public.audit_pseudonymize_ip(ip),
           user_agent = CASE WHEN user_agent IS NULL THEN NULL ELSE '[pruned]' END,
           client_salt = NULL,
           pruned_at = pg_catalog.now()
     WHERE pruned_at IS NULL AND actor_id = p_user;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM pg_catalog.set_config('crust.audit_prune', 'off', true);
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION public.audit_pseudonymize_erased_user(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.audit_pseudonymize_erased_user(uuid) TO crust_app;
