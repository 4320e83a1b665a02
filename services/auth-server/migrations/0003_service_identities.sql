-- Up Migration
-- Machine principals that sign in with OAuth2 client_credentials (seed 000).
CREATE TABLE service_identities (
  id         uuid PRIMARY KEY,
  tenant_id  uuid NOT NULL REFERENCES tenants (id),
  name       text NOT NULL,
  client_id  text NOT NULL UNIQUE,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

-- Each tenant's machine identity provider: the built-in one (client secrets kept by
-- token-service) or an external OAuth2 server (its token endpoint).
ALTER TABLE tenants
  ADD COLUMN machine_idp jsonb NOT NULL DEFAULT '{"kind": "builtin"}';

-- Down Migration
ALTER TABLE tenants DROP COLUMN machine_idp;
DROP TABLE service_identities;
