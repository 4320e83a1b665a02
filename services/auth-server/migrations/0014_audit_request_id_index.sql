-- Up Migration
-- `mezctl audit explain REQUEST_ID` reads every record of one request.
CREATE INDEX audit_events_request_id_idx ON audit_events (request_id);

-- Down Migration
DROP INDEX audit_events_request_id_idx;
