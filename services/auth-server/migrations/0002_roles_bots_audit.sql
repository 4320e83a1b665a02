-- Up Migration
CREATE TABLE roles (
  id         uuid PRIMARY KEY,
  tenant_id  uuid NOT NULL REFERENCES tenants (id),
  name       text NOT NULL,
  spec       jsonb NOT NULL,
  revision   bigint NOT NULL DEFAULT 1,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

ALTER TABLE bots
  ADD COLUMN generation                bigint NOT NULL DEFAULT 0,
  ADD COLUMN last_presented_generation bigint,
  ADD COLUMN join_generation           bigint NOT NULL DEFAULT 0,
  ADD COLUMN last_seen_at              timestamptz(3),
  ADD COLUMN cert_expires_at           timestamptz(3),
  ADD COLUMN lock_reason               text,
  ADD COLUMN locked_at                 timestamptz(3),
  ADD COLUMN lock_expires_at           timestamptz(3),
  ADD COLUMN locked_by                 text;

-- Single-use renewal challenges: consumed by one conditional UPDATE.
CREATE TABLE renewal_challenges (
  id                   uuid PRIMARY KEY,
  bot_id               uuid NOT NULL,
  tenant_id            uuid NOT NULL,
  challenge            bytea NOT NULL,
  certificate          text NOT NULL,
  presented_generation bigint NOT NULL,
  expires_at           timestamptz(3) NOT NULL,
  used_at              timestamptz(3)
);
CREATE INDEX renewal_challenges_expiry_idx ON renewal_challenges (expires_at);

CREATE TABLE audit_events (
  id         uuid PRIMARY KEY,
  tenant_id  uuid,
  time       timestamptz(3) NOT NULL DEFAULT now(),
  type       text NOT NULL,
  actor      text NOT NULL,
  target     text NOT NULL,
  result     text NOT NULL CHECK (result IN ('success', 'failure')),
  request_id text NOT NULL,
  details    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_tenant_time_idx ON audit_events (tenant_id, time DESC);

-- Down Migration
DROP TABLE audit_events;
DROP TABLE renewal_challenges;
ALTER TABLE bots
  DROP COLUMN generation, DROP COLUMN last_presented_generation, DROP COLUMN join_generation,
  DROP COLUMN last_seen_at, DROP COLUMN cert_expires_at, DROP COLUMN lock_reason,
  DROP COLUMN locked_at, DROP COLUMN lock_expires_at, DROP COLUMN locked_by;
DROP TABLE roles;
