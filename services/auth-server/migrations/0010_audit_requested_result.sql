-- Up Migration
-- Admin actions are audited before they happen: a `requested` record first, then the
-- outcome (`success` or `failure`) under the same request id (docs/DECISIONS.md).
ALTER TABLE audit_events DROP CONSTRAINT audit_events_result_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_result_check CHECK (result IN ('success', 'failure', 'requested'));

-- Down Migration
ALTER TABLE audit_events DROP CONSTRAINT audit_events_result_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_result_check CHECK (result IN ('success', 'failure'));
