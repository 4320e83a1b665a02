-- Up Migration
-- OAuth2 client_credentials secrets of service identities, stored only as the keyed
-- hash; one secret per client id.
CREATE TABLE client_secrets (
  client_id           text PRIMARY KEY,
  tenant_id           uuid NOT NULL,
  service_identity_id uuid NOT NULL,
  secret_hash         bytea NOT NULL,
  created_at          timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX client_secrets_identity_idx ON client_secrets (tenant_id, service_identity_id);

-- Down Migration
DROP TABLE client_secrets;
