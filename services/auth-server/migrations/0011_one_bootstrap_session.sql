-- Up Migration
-- At most one unrevoked bootstrap admin session per tenant (docs/DECISIONS.md, "One
-- bootstrap admin session"). Earlier versions minted one per auth-server start and
-- never revoked them: all but the newest are revoked here.
UPDATE sessions s SET revoked_at = now()
WHERE s.auth_method = 'bootstrap-admin' AND s.revoked_at IS NULL
  AND EXISTS (SELECT 1 FROM sessions n WHERE n.tenant_id = s.tenant_id AND n.auth_method = 'bootstrap-admin'
              AND n.revoked_at IS NULL AND (n.created_at, n.id) > (s.created_at, s.id));
CREATE UNIQUE INDEX sessions_one_bootstrap_idx ON sessions (tenant_id) WHERE auth_method = 'bootstrap-admin' AND revoked_at IS NULL;

-- Down Migration
DROP INDEX sessions_one_bootstrap_idx;
