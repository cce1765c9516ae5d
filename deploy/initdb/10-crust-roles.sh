#!/bin/sh
# Runs once, when the primary's data directory is created (the official postgres
# image's initdb hook), as its superuser. It makes:
# - `crust`, the tables' owner, which runs the migrations (`migrate` service). It is
#   not a superuser; CREATEROLE lets `crust bi grant` make BI logins, and it
#   administers the roles the migrations expect;
# - `crust_server`, the API's login: only a member of crust_app (it owns nothing and
#   cannot touch the audit log's trigger);
# - `replicator`, for the streaming replica.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v owner_password="$CRUST_OWNER_DB_PASSWORD" \
    -v server_password="$CRUST_SERVER_DB_PASSWORD" \
    -v replication_password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE crust LOGIN CREATEROLE PASSWORD :'owner_password';
CREATE DATABASE crust OWNER crust;
CREATE ROLE crust_app NOLOGIN;
CREATE ROLE crust_bi NOLOGIN;
CREATE ROLE crust_bi_reader NOLOGIN;
GRANT crust_app, crust_bi, crust_bi_reader TO crust WITH ADMIN OPTION;
CREATE ROLE crust_server LOGIN PASSWORD :'server_password' IN ROLE crust_app;
CREATE ROLE replicator LOGIN REPLICATION PASSWORD :'replication_password';
SQL
# The replica connects as `replicator` (SCRAM); nothing else replicates.
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
