-- Up Migration
-- Every certificate ssh-ca signs, written before the certificate is returned. It feeds
-- the KRL (revoking a subject revokes the serials of its unexpired certificates) and
-- the audit trail.
CREATE TABLE issued_certificates (
  ca_id                  uuid NOT NULL REFERENCES cert_authorities (id),
  -- Random, 1 .. 2^63-1: fits bigint, and OpenSSH reads it as an unsigned 64-bit value.
  serial                 bigint NOT NULL CHECK (serial > 0),
  type                   text NOT NULL CHECK (type IN ('user', 'host')),
  -- The key id as in the certificate, `<requested key id>/<serial>`: what sshd logs.
  key_id                 text NOT NULL,
  principals             text[] NOT NULL,
  subject_id             uuid,
  tenant_id              uuid,
  -- `SHA256:…` of the certified public key, as ssh-keygen -l prints it.
  public_key_fingerprint text NOT NULL,
  valid_after            timestamptz(3) NOT NULL,
  valid_before           timestamptz(3) NOT NULL,
  created_at             timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (ca_id, serial),
  CHECK (valid_before > valid_after)
);
-- A subject's certificates (KRL on revocation, audit); valid_before lets the KRL skip expired ones.
CREATE INDEX issued_certificates_subject_idx ON issued_certificates (subject_id, valid_before);

-- Down Migration
DROP TABLE issued_certificates;
