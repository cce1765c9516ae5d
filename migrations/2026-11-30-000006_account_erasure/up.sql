-- When an account's personal data was erased (name, address and password gone; the
-- row stays so shared work keeps pointing at "deleted user").
ALTER TABLE users ADD COLUMN erased_at timestamptz;

-- Erasing an account (GDPR): the server's login may pseudonymize the audit events of
-- one account only once that account is erased, and only the way `crust audit prune`
-- does (the IP cut to its network, the user agent blanked, the salt dropped), so every
-- chain stays verifiable. The server's login has no UPDATE on audit_events: this
-- owner-run function is its only way, and it refuses for a live account.
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
     WHERE pruned_at IS NULL AND (actor_id = p_user OR subject_user_id = p_user);
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM pg_catalog.set_config('crust.audit_prune', 'off', true);
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION public.audit_pseudonymize_erased_user(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.audit_pseudonymize_erased_user(uuid) TO crust_app;
