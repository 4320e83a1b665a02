import { FakeClock, isMeziteError, type Principal } from '@mezite/identity';
import { nullLogger } from '@mezite/platform';
import { MemoryAuditLog } from '../store/memory-audit-log';
import type { ApiTokenClient, ApiTokenInfo } from './api-token-client';
import { FailureLimiter } from './failure-limiter';
import { API_TOKEN_ROTATES_ITSELF, IdentityTokenManager } from './identity-token-manager';
import { RefusalAuditor } from './refusal-auditor';
import type { ServiceIdentityStore } from './service-identity';

describe('IdentityTokenManager.issueService under a spray of bad client credentials', () => {
  const setup = (withRefusals: boolean) => {
    const clock = new FakeClock('2026-06-01T00:00:00Z');
    const audit = new MemoryAuditLog();
    const limiter = new FailureLimiter({ clock, maxFailures: 3, windowMs: 60_000 });
    const manager = new IdentityTokenManager({
      tokens: {} as ApiTokenClient,
      // Every client id is unknown: each attempt is a credential failure.
      services: { getByClientId: async () => null } as unknown as ServiceIdentityStore,
      machineIdp: async () => {
        throw new Error('not reached');
      },
      audit,
      limiter,
      ...(withRefusals ? { refusals: new RefusalAuditor({ audit, clock, log: nullLogger, perSource: 9 }) } : {}),
    });
    const attempt = () =>
      manager.issueService({ clientId: 'svc-deployer', clientSecret: 'guess', grantType: 'client_credentials', requestId: 'r', source: '203.0.113.7' }).then(
        () => 'issued',
        (err: unknown) => (isMeziteError(err) ? err.code : 'other'),
      );
    return { audit, attempt };
  };

  test('the limiter stops the guessing, and its refusals cost one audit record per source and window, not one each', async () => {
    const { audit, attempt } = setup(true);
    const codes: string[] = [];
    for (let i = 0; i < 50; i++) codes.push(await attempt());
    expect(codes.slice(0, 3)).toEqual(['Unauthenticated', 'Unauthenticated', 'Unauthenticated']);
    expect(new Set(codes.slice(3))).toEqual(new Set(['ResourceExhausted']));
    expect(audit.events.map((e) => `${e.type} ${e.actor} ${e.result} ${e.details.reason}`)).toEqual([
      'token.issue_service client:svc-deployer failure unknown client',
      'token.issue_service client:svc-deployer failure unknown client',
      'token.issue_service client:svc-deployer failure unknown client',
      'token.issue_service client:svc-deployer failure rate limited',
    ]);
    expect(audit.events[3]?.details).toMatchObject({ source: '203.0.113.7', credential: 'client secret' });
  });

  test('without the auditor (as before), each refused attempt was an append to the audit chain', async () => {
    const { audit, attempt } = setup(false);
    for (let i = 0; i < 50; i++) await attempt();
    expect(audit.events.filter((e) => e.details.reason === 'rate limited')).toHaveLength(47);
  });
});

describe('IdentityTokenManager.rotate: a token caller rotates only the token it presents (issue 14)', () => {
  const tenantId = '7e000000-0000-4000-8000-000000000001';
  const serviceId = '5e000000-0000-4000-8000-000000000001';
  const presented = 'a0000000-0000-4000-8000-000000000001';
  const sibling = 'a0000000-0000-4000-8000-000000000002';
  const setup = () => {
    const audit = new MemoryAuditLog();
    const rotated: string[] = [];
    const tokens = {
      rotate: async (i: { tenantId: string; identityId: string; id: string }) => {
        rotated.push(`${i.identityId} ${i.id}`);
        return { plaintext: 'psk_live_x', token: { id: 'a0000000-0000-4000-8000-0000000000ff' } as ApiTokenInfo, rotationDeadline: new Date() };
      },
    } as unknown as ApiTokenClient;
    const manager = new IdentityTokenManager({ tokens, services: {} as ServiceIdentityStore, machineIdp: async () => ({}) as never, audit });
    return { audit, rotated, manager };
  };
  const machine = (apiTokenId?: string): Principal => ({ kind: 'service', id: serviceId, tenantId, name: `service:${serviceId}`, authMethod: 'api-token', roles: [], ...(apiTokenId ? { apiTokenId } : {}) });

  test('the presented token: rotated, for its own identity', async () => {
    const { rotated, manager, audit } = setup();
    await manager.rotate(machine(presented), presented, 'r1');
    expect(rotated).toEqual([`${serviceId} ${presented}`]);
    expect(audit.events.map((e) => `${e.type} ${e.result}`)).toEqual(['token.rotate success']);
  });

  test.each([
    ['a sibling token of the same identity', machine(presented), sibling],
    ['a token of another identity or tenant', machine(presented), 'a0000000-0000-4000-8000-000000000099'],
    ['any token, when the principal does not say which token it presented', machine(), presented],
  ])('%s: PermissionDenied before token-service is asked, audited', async (_case, caller, id) => {
    const { rotated, manager, audit } = setup();
    const err = await manager.rotate(caller, id, 'r2').catch((e: unknown) => e);
    expect(isMeziteError(err, 'PermissionDenied')).toBe(true);
    expect((err as Error).message).toBe(API_TOKEN_ROTATES_ITSELF);
    expect(rotated).toEqual([]);
    expect(audit.events.map((e) => [e.type, e.result, e.target, e.details.reason])).toEqual([['token.rotate', 'failure', `token:${id}`, 'not the presented api token']]);
  });

  test('an interactive session rotates any token of its own identity, as before', async () => {
    const { rotated, manager } = setup();
    const userId = '0e000000-0000-4000-8000-000000000001';
    const person: Principal = { kind: 'user', id: userId, tenantId, name: 'admin@example.com', authMethod: 'interactive-session', roles: ['admin'] };
    await manager.rotate(person, sibling, 'r3');
    expect(rotated).toEqual([`${userId} ${sibling}`]);
  });
});
