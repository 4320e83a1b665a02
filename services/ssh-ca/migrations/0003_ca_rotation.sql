-- Up Migration
-- CA rotation (mezctl ca rotate): a CA is `next` (trusted, not signing yet), `active`
-- (signing), `previous` (trusted until the rotation completes) or `retired` (untrusted).
ALTER TABLE cert_authorities
  ADD COLUMN state            text,
  ADD COLUMN state_changed_at timestamptz(3) NOT NULL DEFAULT now();
UPDATE cert_authorities SET state = CASE WHEN active THEN 'active' ELSE 'previous' END;
ALTER TABLE cert_authorities
  ALTER COLUMN state SET NOT NULL,
  ADD CONSTRAINT cert_authorities_state_check CHECK (state IN ('next', 'active', 'previous', 'retired'));
DROP INDEX cert_authorities_one_active;
-- `active` stays readable (derived) for replicas of the previous release during an upgrade.
ALTER TABLE cert_authorities DROP COLUMN active;
ALTER TABLE cert_authorities ADD COLUMN active boolean GENERATED ALWAYS AS (state = 'active') STORED;
-- At most one signing CA and one rotation in progress per type, whatever replicas race.
CREATE UNIQUE INDEX cert_authorities_one_active ON cert_authorities (type) WHERE state = 'active';
CREATE UNIQUE INDEX cert_authorities_one_next ON cert_authorities (type) WHERE state = 'next';
CREATE UNIQUE INDEX cert_authorities_one_previous ON cert_authorities (type) WHERE state = 'previous';

-- Revoking one certificate by serial (mezctl ca revoke), and "when does the last
-- certificate of this CA expire" (completing a rotation).
CREATE INDEX issued_certificates_serial_idx ON issued_certificates (serial);
CREATE INDEX issued_certificates_ca_expiry_idx ON issued_certificates (ca_id, valid_before);

-- Down Migration
DROP INDEX issued_certificates_ca_expiry_idx;
DROP INDEX issued_certificates_serial_idx;
DROP INDEX cert_authorities_one_previous;
DROP INDEX cert_authorities_one_next;
DROP INDEX cert_authorities_one_active;
ALTER TABLE cert_authorities DROP COLUMN active;
ALTER TABLE cert_authorities ADD COLUMN active boolean NOT NULL DEFAULT false;
UPDATE cert_authorities SET active = (state = 'active');
CREATE UNIQUE INDEX cert_authorities_one_active ON cert_authorities (type) WHERE active;
ALTER TABLE cert_authorities DROP COLUMN state, DROP COLUMN state_changed_at;
