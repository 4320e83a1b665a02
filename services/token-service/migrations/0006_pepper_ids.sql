-- Up Migration
-- The id of the pepper each stored hash is under (docs/DECISIONS.md, "Versioned peppers").
-- Rows hashed before ids existed keep NULL: the migration cannot know the key. The
-- service records its current key's id on them at start when it has no previous key
-- (then no other key could verify them), and on each as it is next used otherwise.
ALTER TABLE api_tokens ADD COLUMN pepper_id text;
ALTER TABLE client_secrets ADD COLUMN pepper_id text;

-- Down Migration
ALTER TABLE client_secrets DROP COLUMN pepper_id;
ALTER TABLE api_tokens DROP COLUMN pepper_id;
