#!/bin/sh
# The read replica for BI tools: on first start, a base backup of the primary as a hot
# standby (`-R` writes the connection back to it); then PostgreSQL with TLS on and the
# pg_hba.conf of ./deploy/replica/pg_hba.conf (`hostssl` lines for the BI logins only).
# Runs as the image's postgres user. temp_file_limit (which no BI login can change)
# keeps one tenant's huge sort from filling the disk every tenant's reports need.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    until pg_isready -h db-primary -U replicator -q; do sleep 1; done
    PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup -h db-primary -U replicator \
        -D "$PGDATA" -R -X stream -c fast
    chmod 700 "$PGDATA"
fi
exec postgres \
    -c hot_standby=on \
    -c listen_addresses='*' \
    -c ssl=on \
    -c ssl_cert_file=/etc/crust/tls/server.crt \
    -c ssl_key_file=/etc/crust/tls/server.key \
    -c hba_file=/etc/crust/pg_hba.conf \
    -c password_encryption=scram-sha-256 \
    -c temp_file_limit=2GB \
    -c max_standby_streaming_delay=30s
