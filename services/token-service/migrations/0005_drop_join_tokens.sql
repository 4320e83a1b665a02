-- Up Migration
-- Join tokens moved to the auth-server (auth.join_tokens, redeemed in the transaction
-- that creates the bot instance or enrolls the node); nothing has read or written this
-- table since, so it goes. A token still in it could not be redeemed anyway.
DROP TABLE join_tokens;

-- Down Migration
CREATE TABLE join_tokens (
  id            uuid PRIMARY KEY,
  tenant_id     uuid NOT NULL,
  subject_kind  text NOT NULL CHECK (subject_kind IN ('bot', 'node')),
  subject_id    uuid NOT NULL,
  token_hash    bytea NOT NULL UNIQUE,
  created_at    timestamptz(3) NOT NULL DEFAULT now(),
  expires_at    timestamptz(3) NOT NULL,
  redeemed_at   timestamptz(3),
  revoked_at    timestamptz(3),
  claim_id      uuid,
  claimed_until timestamptz(3)
);
CREATE INDEX join_tokens_subject_idx ON join_tokens (tenant_id, subject_id);
CREATE UNIQUE INDEX join_tokens_claim_idx ON join_tokens (claim_id);
