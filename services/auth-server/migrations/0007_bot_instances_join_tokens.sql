-- Up Migration
-- Join tokens live here, beside what their redemption creates: a join redeems its token
-- in the same transaction that stores the bot instance and its first generation (or
-- enrolls the node). Hashes are HMAC-SHA256 under the auth-server's join-token key.
CREATE TABLE join_tokens (
  id           uuid PRIMARY KEY,
  tenant_id    uuid NOT NULL,
  subject_kind text NOT NULL CHECK (subject_kind IN ('bot', 'node')),
  subject_id   uuid NOT NULL,
  token_hash   bytea NOT NULL UNIQUE,
  created_at   timestamptz(3) NOT NULL,
  expires_at   timestamptz(3) NOT NULL,
  redeemed_at  timestamptz(3),
  revoked_at   timestamptz(3),
  -- The bot instance its redemption created: a retried join (same token, same key) is
  -- answered with that instance's first certificate.
  instance_id  uuid
);
CREATE INDEX join_tokens_subject_idx ON join_tokens (tenant_id, subject_id);

-- One machine's lineage of a bot: created by a join, moved on by each renewal.
CREATE TABLE bot_instances (
  id                uuid PRIMARY KEY,
  tenant_id         uuid NOT NULL,
  bot_id            uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
  generation        bigint NOT NULL,
  join_method       text NOT NULL,
  join_token_id     uuid,
  created_at        timestamptz(3) NOT NULL,
  last_renewal_at   timestamptz(3),
  last_address      text NOT NULL DEFAULT '',
  heartbeat         jsonb,
  cert_expires_at   timestamptz(3),
  lock_reason       text,
  locked_at         timestamptz(3),
  locked_by         text,
  -- Set for a lineage carried over from before instances existed: its generations up
  -- to this one have no recorded keys.
  legacy_generation bigint
);
CREATE INDEX bot_instances_bot_idx ON bot_instances (tenant_id, bot_id, created_at DESC, id);
CREATE INDEX bot_instances_tenant_idx ON bot_instances (tenant_id, created_at DESC, id);

-- The key certified at each generation: a renewal presenting generation N with the key
-- recorded for N+1 is a retry (answered with the same certificate); with any other key
-- it is a copy.
CREATE TABLE bot_instance_generations (
  instance_id     uuid NOT NULL REFERENCES bot_instances (id) ON DELETE CASCADE,
  generation      bigint NOT NULL,
  public_key      text NOT NULL,
  key_fingerprint text NOT NULL,
  serial          text NOT NULL,
  certificate     text NOT NULL,
  issued_at       timestamptz(3) NOT NULL,
  expires_at      timestamptz(3) NOT NULL,
  address         text NOT NULL DEFAULT '',
  request_id      text NOT NULL DEFAULT '',
  PRIMARY KEY (instance_id, generation)
);

-- A bot's own cap on its certificates' lifetime (NULL: the server's default).
ALTER TABLE bots ADD COLUMN max_cert_ttl_ms bigint;

-- Bots that exist today keep renewing: each lineage becomes the bot's first instance,
-- with the bot's id (their certificates name no instance, so the bot id stands for it).
INSERT INTO bot_instances (id, tenant_id, bot_id, generation, join_method, created_at, last_renewal_at, cert_expires_at, legacy_generation,
                           lock_reason, locked_at, locked_by)
SELECT id, tenant_id, id, generation, 'token', COALESCE(last_seen_at, created_at), last_seen_at, cert_expires_at, generation,
       NULL, NULL, NULL
FROM bots WHERE generation > 0;

-- Down Migration
ALTER TABLE bots DROP COLUMN max_cert_ttl_ms;
DROP TABLE bot_instance_generations;
DROP TABLE bot_instances;
DROP TABLE join_tokens;
