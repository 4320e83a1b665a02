-- Up Migration
CREATE TABLE cert_authorities (
  id                    uuid PRIMARY KEY,
  type                  text NOT NULL CHECK (type IN ('user', 'host')),
  algorithm             text NOT NULL CHECK (algorithm IN ('ecdsa-p256', 'ed25519')),
  public_key            text NOT NULL,
  fingerprint           text NOT NULL,
  encrypted_private_key bytea NOT NULL,
  active                boolean NOT NULL,
  created_at            timestamptz(3) NOT NULL DEFAULT now()
);
-- At most one signing CA per type, even when replicas start together.
CREATE UNIQUE INDEX cert_authorities_one_active ON cert_authorities (type) WHERE active;

-- Down Migration
DROP TABLE cert_authorities;
