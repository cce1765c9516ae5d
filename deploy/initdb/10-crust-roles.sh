#!/bin/sh
# Runs once, when the primary's data directory is created (bitnami's initdb hook), as
# its superuser: the roles Crust's migrations expect, so the owner login `crust` needs
# no CREATEROLE, and the server's own login, which is only a member of crust_app (it
# cannot touch the audit log's trigger or rewrite events: it owns nothing).
set -eu
PGPASSWORD="$POSTGRESQL_POSTGRES_PASSWORD" psql -v ON_ERROR_STOP=1 -U postgres -d "$POSTGRESQL_DATABASE" \
    -v server_password="$CRUST_SERVER_DB_PASSWORD" <<'SQL'
CREATE ROLE crust_app NOLOGIN;
GRANT crust_app TO crust WITH ADMIN OPTION;
CREATE ROLE crust_server LOGIN PASSWORD :'server_password' IN ROLE crust_app;
SQL
