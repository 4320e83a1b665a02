-- Up Migration
CREATE TABLE join_tokens (
  id           uuid PRIMARY KEY,
  tenant_id    uuid NOT NULL,
  subject_kind text NOT NULL CHECK (subject_kind IN ('bot', 'node')),
  subject_id   uuid NOT NULL,
  token_hash   bytea NOT NULL UNIQUE,
  created_at   timestamptz(3) NOT NULL DEFAULT now(),
  expires_at   timestamptz(3) NOT NULL,
  redeemed_at  timestamptz(3),
  revoked_at   timestamptz(3)
);
CREATE INDEX join_tokens_subject_idx ON join_tokens (tenant_id, subject_id);

-- Down Migration
DROP TABLE join_tokens;
