-- Up Migration
-- The id of the session pepper each session's hash is under (docs/DECISIONS.md,
-- "Versioned peppers"). Sessions hashed before ids existed keep NULL: the migration
-- cannot know the key. The auth-server records its current pepper's id on them at start
-- when it has no previous pepper, and on each as it is next used otherwise.
ALTER TABLE sessions ADD COLUMN pepper_id text;

-- Down Migration
ALTER TABLE sessions DROP COLUMN pepper_id;
