-- Attachments: files on tasks, stored encrypted outside the database.
--
-- A row holds everything needed to read its blob: the blob's storage key (built by the
-- server from random ids), the file's data key wrapped by a master key (and that key's
-- id), and the nonce prefix of its chunks. Deleting the row destroys the data key, so
-- the blob is unreadable from that moment (crypto-shredding); the blob itself is then
-- removed by the purge queue below.
CREATE TABLE attachments (
    id            uuid PRIMARY KEY,
    task_id       uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    org_id        uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    uploader_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    content_type  text NOT NULL CHECK (char_length(content_type) BETWEEN 3 AND 127),
    size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
    storage_key   text NOT NULL UNIQUE CHECK (char_length(storage_key) <= 200),
    key_id        text NOT NULL CHECK (char_length(key_id) BETWEEN 1 AND 64),
    wrapped_key   bytea NOT NULL CHECK (octet_length(wrapped_key) = 60),
    nonce_prefix  bytea NOT NULL CHECK (octet_length(nonce_prefix) = 7),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_task ON attachments (task_id, created_at, id);
-- The organization's quota sums its files.
CREATE INDEX attachments_org ON attachments (org_id);
CREATE INDEX attachments_uploader ON attachments (uploader_id);
-- Key rotation walks the files still wrapped by an older key.
CREATE INDEX attachments_key ON attachments (key_id);

-- Blobs to remove from storage: those of deleted attachments, and reservations made
-- before an upload starts (removed with the attachment's insert), so a blob written by
-- an upload that never finished — the server died mid-way — is found and removed too.
CREATE TABLE blob_purges (
    storage_key  text PRIMARY KEY CHECK (char_length(storage_key) <= 200),
    not_before   timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   text CHECK (char_length(last_error) <= 500)
);
CREATE INDEX blob_purges_due ON blob_purges (not_before);

CREATE FUNCTION attachments_purge_blob() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO blob_purges (storage_key) VALUES (OLD.storage_key)
        ON CONFLICT (storage_key) DO UPDATE SET not_before = now();
    RETURN OLD;
END $$;

-- However a row goes (deleteAttachment, a task or project deleted, an organization
-- removed), its blob is queued for removal in the same transaction.
CREATE TRIGGER attachments_purge_blob AFTER DELETE ON attachments
    FOR EACH ROW EXECUTE FUNCTION attachments_purge_blob();

GRANT SELECT, INSERT, UPDATE, DELETE ON attachments, blob_purges TO crust_app;
