-- Up Migration
-- Provision resources (`kind: join_token`): which bot a machine joins as, by which
-- delegated method (github, …), and the allow rules its platform's ID token must meet.
CREATE TABLE join_resources (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL,
  name        text NOT NULL,
  bot_id      uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
  bot_name    text NOT NULL,
  join_method text NOT NULL,
  allow       jsonb NOT NULL,
  audience    text NOT NULL DEFAULT '',
  options     jsonb NOT NULL,
  expires_at  timestamptz(3),
  created_at  timestamptz(3) NOT NULL,
  updated_at  timestamptz(3) NOT NULL,
  revision    bigint NOT NULL DEFAULT 1,
  UNIQUE (tenant_id, name)
);

-- Each platform ID token joins once: its issuer and jti, kept until it expires. The
-- primary key is what makes a second use fail on every replica at once.
CREATE TABLE join_id_token_uses (
  issuer      text NOT NULL,
  jti         text NOT NULL,
  tenant_id   uuid NOT NULL,
  resource_id uuid NOT NULL,
  -- The instance its join created: a retry of that join (same token, same key) is
  -- answered with the instance's first certificate.
  instance_id uuid,
  expires_at  timestamptz(3) NOT NULL,
  used_at     timestamptz(3) NOT NULL,
  PRIMARY KEY (issuer, jti)
);
CREATE INDEX join_id_token_uses_expiry_idx ON join_id_token_uses (expires_at);

-- Down Migration
DROP TABLE join_id_token_uses;
DROP TABLE join_resources;
