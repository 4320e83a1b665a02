import { failedPrecondition, invalidArgument } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { AuditLog } from '../domain/audit';
import { requireAdmin } from '../domain/authz';
import type { AuthContext } from './auth-middleware';

/** Handlers for AuditService. Page tokens carry the last event's time and id. */
export function auditHandlers(audit: AuditLog): ServiceImplementation<typeof authv1.AuditServiceDefinition, AuthContext> {
  return {
    async listAuditEvents(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'read the audit log');
      const limit = req.pageSize > 0 ? Math.min(req.pageSize, 1000) : 100;
      let before: { time: Date; id: string } | undefined;
      if (req.pageToken) {
        const [t, id] = Buffer.from(req.pageToken, 'base64url').toString('utf8').split('|');
        const time = new Date(Number(t));
        if (!id || Number.isNaN(time.getTime())) throw invalidArgument('invalid page_token');
        before = { time, id };
      }
      const events = await audit.list(caller.tenantId, { limit: limit + 1, ...(req.since ? { since: req.since } : {}), ...(req.type ? { typePrefix: req.type } : {}), ...(before ? { before } : {}) });
      const page = events.slice(0, limit);
      const last = page[page.length - 1];
      return {
        events: page.map((e) => ({ id: e.id, time: e.time, type: e.type, actor: e.actor, target: e.target, result: e.result, requestId: e.requestId, details: e.details })),
        nextPageToken: events.length > limit && last ? Buffer.from(`${last.time.getTime()}|${last.id}`).toString('base64url') : '',
      };
    },
    async verifyAuditLog(_req, ctx) {
      requireAdmin(ctx.principal, 'verify the audit log');
      if (!audit.verify) throw failedPrecondition('this audit log cannot be verified');
      const r = await audit.verify();
      return { ok: r.ok, checked: r.checked, firstBadSeq: r.firstBadSeq, problem: r.problem };
    },
  };
}
