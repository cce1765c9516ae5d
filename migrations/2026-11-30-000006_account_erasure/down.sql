DROP FUNCTION public.audit_pseudonymize_erased_user(uuid);
DROP TRIGGER users_erasure_is_final ON users;
DROP FUNCTION public.users_erasure_is_final();
ALTER TABLE users DROP COLUMN erased_at;
