import { randomBytes, randomUUID } from 'node:crypto';
import type { Principal } from '@mezite/identity';
import { nullLogger } from '@mezite/platform';
import type { authv1 } from '@mezite/proto';
import type { CallContext } from 'nice-grpc';
import { AuditCheckpoints, CheckpointSigner, type AuditCheckpointStore } from '../domain/audit-checkpoint';
import { MemoryAuditLog } from '../store/memory-audit-log';
import { auditHandlers } from './audit-handlers';
import type { AuthContext } from './auth-middleware';

/** AuditService's checkpoint RPCs: admins only, and a malformed checkpoint is the caller's mistake. */
describe('AuditService checkpoints', () => {
  const tenantId = randomUUID();
  const as = (roles: string[]) => ({ principal: { kind: 'user', id: randomUUID(), tenantId, name: 'u', authMethod: 'interactive-session', roles } as Principal, requestId: 'r', log: nullLogger }) as unknown as AuthContext & CallContext;
  const head = { seq: 3, hash: randomBytes(32), keyedFrom: 1 };
  const store: AuditCheckpointStore = { chainHead: async () => head, linkAt: async (s) => (s === 3 ? head.hash : null), saveCheckpoint: async (c) => c, listCheckpoints: async () => [] };
  const signer = new CheckpointSigner(randomBytes(32));
  const audit = Object.assign(new MemoryAuditLog(), { verify: async () => ({ ok: true, checked: 3, firstBadSeq: 0, problem: '' }) });
  const h = auditHandlers(audit, new AuditCheckpoints({ store, signer, clock: { now: () => new Date('2026-12-07T06:00:00Z') } }));

  test.each(['createAuditCheckpoint', 'listAuditCheckpoints', 'verifyAuditLog'] as const)('%s is for admins only', async (m) => {
    await expect((h[m] as (req: object, ctx: unknown) => Promise<unknown>)({ checkpoints: [], afterSeq: 0, pageSize: 0 }, as([]))).rejects.toMatchObject({ code: 'PermissionDenied' });
  });

  test('a checkpoint signed now verifies; a malformed one is InvalidArgument, an edited one a break', async () => {
    const cp = (await h.createAuditCheckpoint!({}, as(['admin']))) as authv1.AuditCheckpoint;
    expect(await h.verifyAuditLog!({ checkpoints: [cp] }, as(['admin']))).toEqual({ ok: true, checked: 3, firstBadSeq: 0, problem: '' });
    await expect(h.verifyAuditLog!({ checkpoints: [{ ...cp, hash: Buffer.alloc(3) }] }, as(['admin']))).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(h.verifyAuditLog!({ checkpoints: [{ ...cp, time: undefined }] }, as(['admin']))).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect(await h.verifyAuditLog!({ checkpoints: [{ ...cp, seq: 5 }] }, as(['admin']))).toMatchObject({ ok: false, firstBadSeq: 5, problem: expect.stringMatching(/not signed by this server/) });
    await expect(h.listAuditCheckpoints!({ afterSeq: -1, pageSize: 0 }, as(['admin']))).rejects.toMatchObject({ code: 'InvalidArgument' });
  });
});
