-- Up Migration
-- The node inventory: stock OpenSSH servers enrolled with `mezd node`.
CREATE TABLE nodes (
  id                   uuid PRIMARY KEY,
  tenant_id            uuid NOT NULL REFERENCES tenants (id),
  name                 text NOT NULL,
  addr                 text NOT NULL,
  labels               jsonb NOT NULL DEFAULT '{}',
  -- The enrolled host key (set by the node's join): renewals find the node by it.
  host_public_key      text,
  host_key_fingerprint text,
  joined_at            timestamptz(3),
  last_seen_at         timestamptz(3),
  cert_expires_at      timestamptz(3),
  created_at           timestamptz(3) NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);
-- A host key belongs to one machine: it is enrolled as one node, cluster-wide.
CREATE UNIQUE INDEX nodes_host_key_idx ON nodes (host_key_fingerprint) WHERE host_key_fingerprint IS NOT NULL;

-- What the KRL revokes besides locked bots: every certificate of a removed bot or node
-- (subject_id), or one certificate (serial). A row is useless once every certificate it
-- names has expired (expires_at) and is then left out.
CREATE TABLE revocations (
  id         uuid PRIMARY KEY,
  tenant_id  uuid NOT NULL,
  subject_id uuid,
  serial     text,
  reason     text NOT NULL,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  expires_at timestamptz(3) NOT NULL,
  CHECK (subject_id IS NOT NULL OR serial IS NOT NULL)
);
CREATE INDEX revocations_expiry_idx ON revocations (expires_at);

-- Renewal challenges serve nodes too (bot_id then holds the node's id).
ALTER TABLE renewal_challenges ADD COLUMN subject_kind text NOT NULL DEFAULT 'bot' CHECK (subject_kind IN ('bot', 'node'));

-- Locked bots feed the KRL on every poll.
CREATE INDEX bots_locked_idx ON bots (locked_at) WHERE locked_at IS NOT NULL;

-- Down Migration
DROP INDEX bots_locked_idx;
ALTER TABLE renewal_challenges DROP COLUMN subject_kind;
DROP TABLE revocations;
DROP TABLE nodes;
