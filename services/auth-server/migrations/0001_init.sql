-- Up Migration
CREATE TABLE tenants (
  id         uuid PRIMARY KEY,
  domain     text NOT NULL UNIQUE,
  kind       text NOT NULL CHECK (kind IN ('human', 'machine', 'mixed')),
  created_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id         uuid PRIMARY KEY,
  tenant_id  uuid NOT NULL REFERENCES tenants (id),
  name       text NOT NULL,
  roles      text[] NOT NULL DEFAULT '{}',
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

CREATE TABLE bots (
  id         uuid PRIMARY KEY,
  tenant_id  uuid NOT NULL REFERENCES tenants (id),
  name       text NOT NULL,
  roles      text[] NOT NULL,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

CREATE TABLE sessions (
  id             uuid PRIMARY KEY,
  tenant_id      uuid NOT NULL REFERENCES tenants (id),
  principal_kind text NOT NULL CHECK (principal_kind IN ('user', 'service')),
  principal_id   uuid NOT NULL,
  name           text NOT NULL,
  auth_method    text NOT NULL,
  roles          text[] NOT NULL DEFAULT '{}',
  acr            text,
  amr            text[] NOT NULL DEFAULT '{}',
  token_hash     bytea NOT NULL UNIQUE,
  created_at     timestamptz(3) NOT NULL DEFAULT now(),
  expires_at     timestamptz(3) NOT NULL,
  revoked_at     timestamptz(3)
);
CREATE INDEX sessions_principal_idx ON sessions (tenant_id, principal_id);

-- Down Migration
DROP TABLE sessions;
DROP TABLE bots;
DROP TABLE users;
DROP TABLE tenants;
