import { FakeClock, isMeziteError, unauthenticated, type Principal } from '@mezite/identity';
import { meziteMetrics, nullLogger } from '@mezite/platform';
import { MemoryAuditLog } from '../store/memory-audit-log';
import type { ApiTokenClient, ApiTokenInfo } from './api-token-client';
import { FailureLimiter } from './failure-limiter';
import { FailureSpikeAlarm } from './failure-spike-alarm';
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

describe('IdentityTokenManager.issueService: failures from other sources never lock out a correct secret (issue 14)', () => {
  const svc = { id: '5e000000-0000-4000-8000-0000000000aa', tenantId: '7e000000-0000-4000-8000-0000000000aa', name: 'deployer', clientId: 'svc-deployer', createdAt: new Date(0) };
  const setup = (threshold = 1000) => {
    const clock = new FakeClock('2026-06-01T00:00:00Z');
    const audit = new MemoryAuditLog();
    const warnings: { msg: string; fields: Record<string, unknown> | undefined }[] = [];
    const log = { warn: (msg: string, fields?: Record<string, unknown>) => warnings.push({ msg, fields }) };
    const limiter = new FailureLimiter({ clock, maxFailures: 5, windowMs: 60_000 });
    const manager = new IdentityTokenManager({
      tokens: {} as ApiTokenClient,
      services: { getByClientId: async (id: string) => (id === svc.clientId ? svc : null) } as unknown as ServiceIdentityStore,
      machineIdp: async () => ({
        verify: async () => undefined,
        verifyAndMint: async (r) => {
          if (r.secret !== 'the-right-secret') throw unauthenticated('invalid client credentials');
          return { plaintext: 'psk_live_issued', token: { id: 'a0000000-0000-4000-8000-0000000000aa', expiresAt: new Date(clock.now().getTime() + 3600_000) } as ApiTokenInfo };
        },
      }),
      audit,
      limiter,
      alarm: new FailureSpikeAlarm({ clock, audit, log, threshold }),
    });
    const attempt = (secret: string, source: string, clientId = svc.clientId) =>
      manager.issueService({ clientId, clientSecret: secret, grantType: 'client_credentials', requestId: `r-${source}`, source }).then(
        () => 'issued',
        (err: unknown) => (isMeziteError(err) ? err.code : 'other'),
      );
    return { audit, attempt, warnings, clock };
  };

  test('an attacker from source A fails until refused; the owner from source B with the correct secret gets a token', async () => {
    const { attempt } = setup();
    const codes: string[] = [];
    for (let i = 0; i < 30; i++) codes.push(await attempt('guess', '203.0.113.7'));
    expect(codes.slice(0, 5)).toEqual(Array(5).fill('Unauthenticated'));
    expect(new Set(codes.slice(5))).toEqual(new Set(['ResourceExhausted']));
    expect(await attempt('the-right-secret', '198.51.100.2')).toBe('issued');
    // The attacker is still refused, with the right secret too (its source is over the limit), and on other clients.
    expect(await attempt('the-right-secret', '203.0.113.7')).toBe('ResourceExhausted');
    expect(await attempt('guess', '203.0.113.7', 'svc-other')).toBe('ResourceExhausted');
  });

  test('failures of one client from many sources raise one alert per window (log, audit), and refuse no one', async () => {
    const { attempt, audit, warnings, clock } = setup(12);
    const spikes = async () => (await meziteMetrics.authFailureSpikes.get()).values.find((v) => v.labels.scope === 'client')?.value ?? 0;
    const spikesBefore = await spikes();
    for (let s = 0; s < 8; s++) for (let i = 0; i < 3; i++) expect(await attempt('guess', `203.0.113.${s}`)).toBe('Unauthenticated');
    expect(await attempt('the-right-secret', '198.51.100.2')).toBe('issued');
    const alerts = audit.events.filter((e) => e.type === 'token.failure_spike');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ tenantId: svc.tenantId, target: `service:${svc.id}`, result: 'failure', details: { client_id: 'svc-deployer', failures: '12', threshold: '12' } });
    expect(warnings.filter((w) => w.msg.startsWith('failed client authentications spike'))).toEqual([expect.objectContaining({ fields: expect.objectContaining({ client_id: 'svc-deployer', failures: 12 }) })]);
    expect((await spikes()) - spikesBefore).toBe(1);
    // The next window, another alert.
    clock.advance(60_000);
    for (let s = 10; s < 14; s++) for (let i = 0; i < 3; i++) await attempt('guess', `203.0.113.${s}`);
    expect(audit.events.filter((e) => e.type === 'token.failure_spike')).toHaveLength(2);
  });

  test('unknown client ids raise no alert', async () => {
    const { attempt, audit } = setup(2);
    for (let s = 0; s < 5; s++) await attempt('guess', `203.0.113.${s}`, 'svc-nobody');
    expect(audit.events.filter((e) => e.type === 'token.failure_spike')).toEqual([]);
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

describe('IdentityTokenManager: usage and finishing a rotation (issue 16)', () => {
  const tenantId = '7e000000-0000-4000-8000-000000000002';
  const serviceId = '5e000000-0000-4000-8000-000000000002';
  const otherService = '5e000000-0000-4000-8000-000000000003';
  const tokenId = 'a0000000-0000-4000-8000-000000000011';
  const setup = () => {
    const audit = new MemoryAuditLog();
    const asked: string[] = [];
    const tokens = {
      usage: async (i: { identityId: string; id: string }) => {
        asked.push(`usage ${i.identityId} ${i.id}`);
        return { usage: [], lastUsedAt: null };
      },
      finishRotation: async (i: { identityId: string; id: string; force: boolean; presentedTokenId?: string }) => {
        asked.push(`finish ${i.identityId} ${i.id} ${i.force} ${i.presentedTokenId ?? '-'}`);
      },
    } as unknown as ApiTokenClient;
    const services = { getById: async (t: string, id: string) => (t === tenantId && id === otherService ? { id } : null) } as unknown as ServiceIdentityStore;
    const manager = new IdentityTokenManager({ tokens, services, machineIdp: async () => ({}) as never, audit });
    return { audit, asked, manager };
  };
  const person = (roles: string[]): Principal => ({ kind: 'user', id: 'u0000000-0000-4000-8000-000000000001', tenantId, name: 'user:u', authMethod: 'interactive-session', roles });
  const machine: Principal = { kind: 'service', id: serviceId, tenantId, name: `service:${serviceId}`, authMethod: 'api-token', roles: [], apiTokenId: 'a0000000-0000-4000-8000-000000000012' };

  test.each([
    ['its own token', machine, '', `usage ${serviceId} ${tokenId}`],
    ['an admin, a service of its tenant', person(['admin']), `service:${otherService}`, `usage ${otherService} ${tokenId}`],
  ])('usage: %s is asked of token-service for that owner', async (_c, caller, ref, want) => {
    const { asked, manager } = setup();
    await manager.usage(caller, tokenId, ref, 'r');
    expect(asked).toEqual([want]);
  });

  test.each([
    ['a non-admin naming another identity', machine, `service:${otherService}`, 'PermissionDenied'],
    ['an admin naming a service of no tenant of its', person(['admin']), 'service:5e000000-0000-4000-8000-0000000000ff', 'NotFound'],
    ['a malformed id', machine, '', 'InvalidArgument'],
  ])('usage: %s is refused before token-service is asked', async (_c, caller, ref, code) => {
    const { asked, manager } = setup();
    const err = await manager.usage(caller, code === 'InvalidArgument' ? 'nope' : tokenId, ref, 'r').catch((e: unknown) => e);
    expect(err).toMatchObject({ code });
    expect(asked).toEqual([]);
  });

  test('finishRotation: an API-token caller is checked as the presented token; audited with force', async () => {
    const { asked, manager, audit } = setup();
    await manager.finishRotation(machine, tokenId, true, 'r');
    expect(asked).toEqual([`finish ${serviceId} ${tokenId} true a0000000-0000-4000-8000-000000000012`]);
    expect(audit.events.map((e) => `${e.type} ${e.result} ${e.target} ${e.details.forced}`)).toEqual([`token.finish_rotation success token:${tokenId} true`]);
  });
});
