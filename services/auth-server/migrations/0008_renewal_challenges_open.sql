-- Up Migration
-- A node's unused renewal challenges are trimmed on every BeginNodeRenewal (at most a
-- few per node); this index finds them.
CREATE INDEX renewal_challenges_subject_open_idx ON renewal_challenges (bot_id, expires_at) WHERE used_at IS NULL;

-- Down Migration
DROP INDEX renewal_challenges_subject_open_idx;
