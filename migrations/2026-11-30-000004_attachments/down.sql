DROP TRIGGER attachments_purge_blob ON attachments;
DROP FUNCTION attachments_purge_blob();
DROP TABLE blob_purges;
DROP TABLE attachments;
