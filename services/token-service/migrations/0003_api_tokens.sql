-- Up Migration
-- API tokens (`psk_<env>_…`), stored only as the keyed hash of the plaintext.
-- Rotation keeps the old token working until rotation_deadline and points it at its
-- successor (replaced_by); revocation sets revoked_at. Rows are never deleted.
CREATE TABLE api_tokens (
  id                uuid PRIMARY KEY,
  tenant_id         uuid NOT NULL,
  identity_kind     text NOT NULL CHECK (identity_kind IN ('user', 'service')),
  identity_id       uuid NOT NULL,
  env               text NOT NULL CHECK (env IN ('live', 'dev')),
  token_hash        bytea NOT NULL UNIQUE,
  created_at        timestamptz(3) NOT NULL DEFAULT now(),
  expires_at        timestamptz(3) NOT NULL,
  last_used_at      timestamptz(3),
  rotated_at        timestamptz(3),
  rotation_deadline timestamptz(3),
  revoked_at        timestamptz(3),
  replaced_by       uuid REFERENCES api_tokens (id)
);
CREATE INDEX api_tokens_identity_idx ON api_tokens (tenant_id, identity_id, created_at DESC);
CREATE INDEX api_tokens_replaced_by_idx ON api_tokens (replaced_by);

-- Down Migration
DROP TABLE api_tokens;
