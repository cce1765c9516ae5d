DROP FUNCTION public.audit_pseudonymize_erased_user(uuid);
ALTER TABLE users DROP COLUMN erased_at;
