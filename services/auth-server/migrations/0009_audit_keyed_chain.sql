-- Up Migration
-- The audit chain is keyed: from here on each link is HMAC-SHA256 under an audit key
-- kept outside the database (MEZITE_AUDIT_KEY), named by key_id. Records already
-- written keep their unkeyed SHA-256 links; keyed_from records the switch point, the
-- first sequence number that must be keyed (docs/DECISIONS.md, "A keyed audit chain").
ALTER TABLE audit_events ADD COLUMN key_id text;
ALTER TABLE audit_chain_head ADD COLUMN keyed_from bigint;
UPDATE audit_chain_head SET keyed_from = seq + 1;
ALTER TABLE audit_chain_head ALTER COLUMN keyed_from SET NOT NULL;
-- A previous version's auth-server (during a rolling update) would append unkeyed links
-- after the switch point, which verification must report as tampering: its appends are
-- refused instead (its action fails closed; the client retries on an upgraded replica).
DO $$
BEGIN
  EXECUTE format('ALTER TABLE audit_events ADD CONSTRAINT audit_events_keyed CHECK (key_id IS NOT NULL OR seq < %s)',
                 (SELECT keyed_from FROM audit_chain_head WHERE id = 1));
END $$;

-- Signed checkpoints of the chain head (Ed25519, key outside the database). Kept here
-- to be listed and exported; only an exported copy guards against a rewrite.
CREATE TABLE audit_checkpoints (
  seq        bigint PRIMARY KEY,
  hash       bytea NOT NULL,
  time       timestamptz(3) NOT NULL,
  key_id     text NOT NULL,
  keyed_from bigint NOT NULL,
  signature  bytea NOT NULL
);

-- Down Migration
DROP TABLE audit_checkpoints;
ALTER TABLE audit_chain_head DROP COLUMN keyed_from;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_keyed, DROP COLUMN key_id;
