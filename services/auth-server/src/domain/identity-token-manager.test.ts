import { FakeClock, isMeziteError } from '@mezite/identity';
import { nullLogger } from '@mezite/platform';
import { MemoryAuditLog } from '../store/memory-audit-log';
import type { ApiTokenClient } from './api-token-client';
import { FailureLimiter } from './failure-limiter';
import { IdentityTokenManager } from './identity-token-manager';
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
