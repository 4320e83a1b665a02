import { randomUUID } from 'node:crypto';
import { FakeClock, type Principal } from '@mezite/identity';
import { nullLogger } from '@mezite/platform';
import type { authv1 } from '@mezite/proto';
import type { CallContext } from 'nice-grpc';
import { BotManager } from '../domain/bot-manager';
import { JoinTokens } from '../domain/join-token';
import { RoleManager } from '../domain/role-manager';
import { FakeCa } from '../domain/test-doubles';
import type { RevocationList } from '../domain/revocation';
import { MemoryAuditLog } from '../store/memory-audit-log';
import { MemoryBotStore } from '../store/memory-bot-store';
import { MemoryJoinTokenStore } from '../store/memory-join-token-store';
import { MemoryRoleStore } from '../store/memory-role-store';
import type { AuthContext } from './auth-middleware';
import { botHandlers } from './bot-handlers';
import { caHandlers } from './ca-handlers';
import { roleHandlers } from './role-handlers';

const ROLE = 'kind: role\nmetadata:\n  name: deployer\nspec:\n  allow:\n    logins: [deploy]\n';

/**
 * Admin actions are audited first: when the audit log cannot take the record, the
 * action does not happen (fail closed); when it can, a `requested` record precedes the
 * outcome under the same request id.
 */
describe('admin actions are audited before they happen', () => {
  const tenantId = randomUUID();
  const admin: Principal = { kind: 'user', id: randomUUID(), tenantId, name: 'admin', authMethod: 'interactive-session', roles: ['admin'] };
  const ctx = (requestId: string = randomUUID()) => ({ principal: admin, requestId, log: nullLogger }) as unknown as AuthContext & CallContext;
  let clock: FakeClock;
  let audit: MemoryAuditLog;
  let store: MemoryBotStore;
  let roles: RoleManager;
  let bots: ReturnType<typeof botHandlers>;
  let ca: FakeCa;
  let revoked: string[];
  let rotations: number;
  let cas: ReturnType<typeof caHandlers>;

  beforeEach(async () => {
    clock = new FakeClock('2026-12-07T06:00:00Z');
    audit = new MemoryAuditLog();
    store = new MemoryBotStore();
    roles = new RoleManager({ store: new MemoryRoleStore(), bots: store, clock });
    await roles.upsert(admin, { yaml: ROLE, fileName: 'role.yaml', force: false });
    const manager = new BotManager({ store, joinTokens: new JoinTokens({ store: new MemoryJoinTokenStore(), clock, pepper: Buffer.alloc(32, 1) }), clock, roles });
    bots = botHandlers(manager, audit);
    await bots.createBot!({ name: 'ci', roles: ['deployer'], tokenTtlSeconds: 3600, maxCertificateTtlSeconds: 0 }, ctx());
    ca = new FakeCa(clock);
    ca.rotate = async () => (rotations++, ca.status());
    rotations = 0;
    revoked = [];
    const krl = { revokeSerial: async (_t: string, serial: string) => void revoked.push(serial) } as unknown as RevocationList;
    cas = caHandlers(ca, audit, krl, async () => tenantId);
    audit.events.length = 0;
  });

  const lockOf = async (name: string) => (await store.get(tenantId, name))?.lock ?? null;

  test.each<[string, () => Promise<unknown>, () => Promise<unknown>]>([
    ['bots lock', () => bots.lockBot!({ name: 'ci', reason: 'incident', ttlSeconds: 0 } as authv1.LockBotRequest, ctx()), () => lockOf('ci')],
    ['bots rm', () => bots.deleteBot!({ name: 'ci' } as authv1.DeleteBotRequest, ctx()), async () => (await store.get(tenantId, 'ci')) === null],
    ['bots add', () => bots.createBot!({ name: 'cd', roles: ['deployer'], tokenTtlSeconds: 3600, maxCertificateTtlSeconds: 0 }, ctx()), () => store.get(tenantId, 'cd')],
    ['roles rm', () => roleHandlersFor().deleteRole!({ name: 'deployer' } as authv1.DeleteRoleRequest, ctx()), async () => (await roles.list(admin, { pageSize: 10, pageToken: '' })).roles.length === 0],
    ['ca sign host', () => cas.signHostCertificate!({ publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl', principals: ['web-01'], ttlSeconds: 3600 } as authv1.SignHostCertificateRequest, ctx()), async () => ca.log.length],
    ['ca rotate', () => cas.rotateCertAuthority!({ type: 'user', phase: 'init', force: false } as authv1.RotateCertAuthorityRequest, ctx()), async () => rotations],
  ])('%s: the audit log is down, so nothing happens', async (_, act, state) => {
    const before = await state();
    audit.failNext = true;
    await expect(act()).rejects.toThrow(/audit store down/);
    expect(await state()).toEqual(before);
    expect(audit.events).toEqual([]);
  });

  const roleHandlersFor = () => roleHandlers(roles, audit);

  test('ca revoke: the audit log is down, so the serial is not revoked', async () => {
    const signed = await cas.signHostCertificate!({ publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl', principals: ['web-01'], ttlSeconds: 3600 } as authv1.SignHostCertificateRequest, ctx());
    expect(signed.certificate).toMatch(/^ecdsa-sha2-nistp256-cert|cert-v01/);
    const serial = String(ca.log[0]?.serial);
    audit.failNext = true;
    await expect(cas.revokeCertificate!({ serial, reason: 'stolen' } as authv1.RevokeCertificateRequest, ctx())).rejects.toThrow(/audit store down/);
    expect(revoked).toEqual([]);
    await cas.revokeCertificate!({ serial, reason: 'stolen' } as authv1.RevokeCertificateRequest, ctx('r-revoke'));
    expect(revoked).toEqual([serial]);
  });

  test('a requested record precedes the outcome under the same request id; a refused action records its failure', async () => {
    await bots.lockBot!({ name: 'ci', reason: 'incident', ttlSeconds: 0 } as authv1.LockBotRequest, ctx('r1'));
    await expect(bots.lockBot!({ name: 'nope', reason: 'x', ttlSeconds: 0 } as authv1.LockBotRequest, ctx('r2'))).rejects.toMatchObject({ code: 'NotFound' });
    expect(audit.events.map((e) => [e.requestId, e.type, e.target, e.result, e.details])).toEqual([
      ['r1', 'bot.lock', 'bot:ci', 'requested', { reason: 'incident' }],
      ['r1', 'bot.lock', 'bot:ci', 'success', { reason: 'incident' }],
      ['r2', 'bot.lock', 'bot:nope', 'requested', { reason: 'x' }],
      ['r2', 'bot.lock', 'bot:nope', 'failure', { reason: expect.stringMatching(/nope/) }],
    ]);
  });

  test('when only the outcome record fails, the done action is answered as done (its requested record stands)', async () => {
    const record = audit.record.bind(audit);
    let n = 0;
    audit.record = async (e) => {
      if (++n === 2) throw new Error('audit store down');
      return record(e);
    };
    await expect(bots.lockBot!({ name: 'ci', reason: 'incident', ttlSeconds: 0 } as authv1.LockBotRequest, ctx('r3'))).resolves.toMatchObject({ name: 'ci' });
    expect(await lockOf('ci')).toMatchObject({ reason: 'incident' });
    expect(audit.events.map((e) => e.result)).toEqual(['requested']);
  });
});
