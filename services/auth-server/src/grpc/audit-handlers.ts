import { failedPrecondition, invalidArgument } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { AuditLog } from '../domain/audit';
import { checkpointFromJson, type AuditCheckpoint, type AuditCheckpoints } from '../domain/audit-checkpoint';
import { requireAdmin } from '../domain/authz';
import type { AuthContext } from './auth-middleware';

const toProto = (c: AuditCheckpoint): authv1.AuditCheckpoint => ({ seq: c.seq, hash: c.hash, time: c.time, keyId: c.keyId, keyedFrom: c.keyedFrom, signature: c.signature });
/** A checkpoint from the caller, checked like an exported line (InvalidArgument when malformed). */
const fromProto = (c: authv1.AuditCheckpoint): AuditCheckpoint =>
  checkpointFromJson({ seq: c.seq, hash: Buffer.from(c.hash).toString('hex'), time: c.time?.toISOString(), key_id: c.keyId, keyed_from: c.keyedFrom, signature: Buffer.from(c.signature).toString('base64') });

/** Handlers for AuditService. Page tokens carry the last event's time and id. */
export function auditHandlers(audit: AuditLog, checkpoints?: AuditCheckpoints): ServiceImplementation<typeof authv1.AuditServiceDefinition, AuthContext> {
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
      const events = await audit.list(caller.tenantId, { limit: limit + 1, ...(req.since ? { since: req.since } : {}), ...(req.type ? { typePrefix: req.type } : {}), ...(req.requestId ? { requestId: req.requestId.slice(0, 200) } : {}), ...(before ? { before } : {}) });
      const page = events.slice(0, limit);
      const last = page[page.length - 1];
      return {
        events: page.map((e) => ({ id: e.id, time: e.time, type: e.type, actor: e.actor, target: e.target, result: e.result, requestId: e.requestId, details: e.details })),
        nextPageToken: events.length > limit && last ? Buffer.from(`${last.time.getTime()}|${last.id}`).toString('base64url') : '',
      };
    },
    async verifyAuditLog(req, ctx) {
      requireAdmin(ctx.principal, 'verify the audit log');
      if (!audit.verify) throw failedPrecondition('this audit log cannot be verified');
      if (req.checkpoints.length > 100_000) throw invalidArgument('at most 100000 checkpoints at once');
      const given = req.checkpoints.map(fromProto);
      if (given.length && !checkpoints) throw failedPrecondition('this audit log has no checkpoints');
      const r = await audit.verify();
      const c = r.ok && checkpoints && given.length ? await checkpoints.verify(given) : null;
      const out = c ? { ...c, checked: r.checked } : r;
      return { ok: out.ok, checked: out.checked, firstBadSeq: out.firstBadSeq, problem: out.problem };
    },
    async createAuditCheckpoint(_req, ctx) {
      requireAdmin(ctx.principal, 'sign an audit checkpoint');
      if (!checkpoints) throw failedPrecondition('this audit log has no checkpoints');
      return toProto(await checkpoints.checkpoint());
    },
    async listAuditCheckpoints(req, ctx) {
      requireAdmin(ctx.principal, 'list audit checkpoints');
      if (!checkpoints) throw failedPrecondition('this audit log has no checkpoints');
      if (req.afterSeq < 0) throw invalidArgument('after_seq must not be negative');
      const limit = req.pageSize > 0 ? Math.min(req.pageSize, 1000) : 100;
      const page = await checkpoints.list(req.afterSeq, limit + 1);
      return { checkpoints: page.slice(0, limit).map(toProto), more: page.length > limit };
    },
  };
}
