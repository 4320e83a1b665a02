-- Up Migration
-- Audit records are hash-chained: each record's hash covers its content and the
-- previous record's hash, so an edited, deleted or reordered record is detectable.
ALTER TABLE audit_events
  ADD COLUMN seq       bigint,
  ADD COLUMN prev_hash bytea,
  ADD COLUMN hash      bytea;
CREATE UNIQUE INDEX audit_events_seq_idx ON audit_events (seq);

-- The head of the chain: one row, locked for the duration of each append.
CREATE TABLE audit_chain_head (
  id   integer PRIMARY KEY CHECK (id = 1),
  seq  bigint NOT NULL,
  hash bytea NOT NULL
);
INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- Down Migration
DROP TABLE audit_chain_head;
ALTER TABLE audit_events DROP COLUMN seq, DROP COLUMN prev_hash, DROP COLUMN hash;
