-- Up Migration
-- The id of the key-encryption key each CA private key is sealed under (docs/DECISIONS.md,
-- "Versioned peppers and key-encryption keys"). Keys sealed before ids existed keep NULL:
-- ssh-ca opens them with whichever configured KEK works and re-wraps them under the
-- current one at start, which records its id.
ALTER TABLE cert_authorities ADD COLUMN kek_id text;

-- Down Migration
ALTER TABLE cert_authorities DROP COLUMN kek_id;
