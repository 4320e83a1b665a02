-- Up Migration
-- One-time redemption in two steps (claim, then confirm or release) so no token is
-- consumed without a certificate: a claim reserves the token until claimed_until.
ALTER TABLE join_tokens
  ADD COLUMN claim_id      uuid,
  ADD COLUMN claimed_until timestamptz(3);
CREATE UNIQUE INDEX join_tokens_claim_idx ON join_tokens (claim_id); -- NULLs never collide

-- Down Migration
DROP INDEX join_tokens_claim_idx;
ALTER TABLE join_tokens DROP COLUMN claimed_until, DROP COLUMN claim_id;
