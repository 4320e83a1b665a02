-- Up Migration
-- Who presents each API token: one row per token, hour, source address and client,
-- written in batches by each replica (docs/DECISIONS.md, "Who still uses a token").
-- Deleted with its token; rows older than the retention age are deleted by the
-- retention job.
CREATE TABLE api_token_usage (
  token_id   uuid NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
  hour       timestamptz NOT NULL,
  source     text NOT NULL,
  client     text NOT NULL,
  count      bigint NOT NULL,
  first_seen timestamptz NOT NULL,
  last_seen  timestamptz NOT NULL,
  PRIMARY KEY (token_id, hour, source, client)
);
CREATE INDEX api_token_usage_last_seen_idx ON api_token_usage (last_seen);

-- Down Migration
DROP TABLE api_token_usage;
