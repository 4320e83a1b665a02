import { FakeClock, isMeziteError, unavailable } from '@mezite/identity';
import { MemoryAuditLog } from '../store/memory-audit-log';
import { FailureLimiter } from './failure-limiter';
import { refusalOf, refused } from './refusal';
import { RefusalAuditor, type RefusalEvent } from './refusal-auditor';

const event = (source: string, requestId = 'r'): RefusalEvent => ({ type: 'auth.authenticate', requestId, source, credential: 'api token', target: 'token:?', fallbackReason: 'refused api token' });
const SECRET = 'psk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

function setup(o: { perSource?: number; total?: number; maxSources?: number } = {}) {
  const clock = new FakeClock();
  const audit = new MemoryAuditLog();
  const warnings: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const log = { warn: (msg: string, fields?: Record<string, unknown>) => void warnings.push({ msg, ...(fields ? { fields } : {}) }) };
  const auditor = new RefusalAuditor({ audit, clock, log, ...o });
  const reasons = () => audit.events.map((e) => `${e.details.source} ${e.details.reason}`);
  return { clock, audit, warnings, auditor, reasons };
}

describe('Refusal', () => {
  test('the public error is the same for every reason; the reason is only in the cause', () => {
    const a = refused('invalid api token', 'expired');
    const b = refused('invalid api token', 'unknown', { tenantId: 't' });
    expect([a.code, a.message]).toEqual([b.code, b.message]);
    expect([refusalOf(a)?.reason, refusalOf(b)?.reason]).toEqual(['expired', 'unknown']);
    expect(refusalOf(new Error('x'))).toBeUndefined();
  });
});

describe('RefusalAuditor', () => {
  test('records a refusal with its reason, subject, credential kind, source and request id, never the credential', async () => {
    const { auditor, audit } = setup();
    await auditor.refused(event('10.0.0.1', 'req-1'), refused('invalid api token', 'expired', { tenantId: 'tenant-1', target: 'token:abc' }));
    await auditor.refused(event('10.0.0.1', 'req-2'), new Error(`no reason attached (${SECRET.slice(0, 4)})`));
    expect(audit.events.map(({ tenantId, type, actor, target, result, requestId, details }) => ({ tenantId, type, actor, target, result, requestId, details }))).toEqual([
      { tenantId: 'tenant-1', type: 'auth.authenticate', actor: 'anonymous', target: 'token:abc', result: 'failure', requestId: 'req-1', details: { reason: 'expired', credential: 'api token', source: '10.0.0.1' } },
      { tenantId: null, type: 'auth.authenticate', actor: 'anonymous', target: 'token:?', result: 'failure', requestId: 'req-2', details: { reason: 'refused api token', credential: 'api token', source: '10.0.0.1' } },
    ]);
  });

  test('per source: at most perSource records a window, then one "audit limit reached"; other sources are unaffected; the next window starts over', async () => {
    const { auditor, clock, reasons, warnings } = setup({ perSource: 3 });
    for (let i = 0; i < 10; i++) await auditor.refused(event('10.0.0.1'), refused('m', 'unknown'));
    await auditor.refused(event('10.0.0.2'), refused('m', 'expired'));
    expect(reasons()).toEqual(['10.0.0.1 unknown', '10.0.0.1 unknown', '10.0.0.1 unknown', '10.0.0.1 audit limit reached', '10.0.0.2 expired']);
    clock.advance(60_000);
    await auditor.refused(event('10.0.0.1'), refused('m', 'revoked'));
    expect(reasons().at(-1)).toBe('10.0.0.1 revoked');
    expect(warnings).toEqual([{ msg: 'refused credentials not audited (audit limit)', fields: { count: 6, window_ms: 60_000 } }]);
  });

  test('over all sources: at most `total` records a window, however many sources spray', async () => {
    const { auditor, audit, clock, warnings } = setup({ perSource: 5, total: 20 });
    for (let i = 0; i < 500; i++) await auditor.refused(event(`2001:db8::${i.toString(16)}`), refused('m', 'unknown'));
    expect(audit.events).toHaveLength(20);
    clock.advance(60_000);
    await auditor.refused(event('10.0.0.1'), refused('m', 'unknown'));
    expect(audit.events).toHaveLength(21);
    expect(warnings[0]?.fields).toEqual({ count: 480, window_ms: 60_000 });
  });

  test('tracks at most maxSources sources a window; the rest only count', async () => {
    const { auditor, audit } = setup({ maxSources: 2 });
    for (const s of ['a', 'b', 'c', 'd']) await auditor.refused(event(s), refused('m', 'unknown'));
    expect(audit.events.map((e) => e.details.source)).toEqual(['a', 'b']);
  });

  test('a failed audit write is logged and swallowed: the refusal stays a refusal', async () => {
    const { auditor, audit, warnings } = setup();
    audit.failNext = true;
    await expect(auditor.refused(event('10.0.0.1', 'req-9'), refused('m', 'expired'))).resolves.toBeUndefined();
    expect(warnings).toMatchObject([{ msg: 'could not audit a refused credential; the refusal stands', fields: { reason: 'expired', request_id: 'req-9' } }]);
  });

  describe('guard (the bearer path)', () => {
    const limiterOf = (clock: FakeClock, maxFailures: number) => new FailureLimiter({ clock, maxFailures, windowMs: 60_000 });

    test('a success passes through, unaudited', async () => {
      const { auditor, audit, clock } = setup();
      await expect(auditor.guard(limiterOf(clock, 3), event('10.0.0.1'), async () => 'principal')).resolves.toBe('principal');
      expect(audit.events).toHaveLength(0);
    });

    test('each refusal is audited while under the limit; over it, the limiter refuses and one "rate limited" record is written a window', async () => {
      const { auditor, clock, reasons } = setup({ perSource: 3 });
      const limiter = limiterOf(clock, 3);
      const errors: string[] = [];
      for (let i = 0; i < 8; i++) {
        const err = await auditor.guard(limiter, event('10.0.0.1'), async () => Promise.reject(refused('invalid api token', 'unknown'))).catch((e: unknown) => e);
        errors.push(`${(err as { code: string }).code}: ${(err as Error).message}`);
      }
      expect(errors.slice(0, 3)).toEqual(Array(3).fill('Unauthenticated: invalid api token'));
      expect(errors.slice(3).every((e) => e.startsWith('ResourceExhausted: too many failed attempts'))).toBe(true);
      expect(reasons()).toEqual(['10.0.0.1 unknown', '10.0.0.1 unknown', '10.0.0.1 unknown', '10.0.0.1 rate limited']);
      // Another window: still limited (the bucket drains over the window), one more note.
      clock.advance(60_000);
      limiter.fail(['source:10.0.0.1']);
      limiter.fail(['source:10.0.0.1']);
      limiter.fail(['source:10.0.0.1']);
      await expect(auditor.guard(limiter, event('10.0.0.1'), async () => 'p')).rejects.toMatchObject({ code: 'ResourceExhausted' });
      await expect(auditor.guard(limiter, event('10.0.0.1'), async () => 'p')).rejects.toMatchObject({ code: 'ResourceExhausted' });
      expect(reasons().filter((r) => r.endsWith('rate limited'))).toHaveLength(2);
    });

    test('a failed audit write does not change the answer (not INTERNAL)', async () => {
      const { auditor, audit, clock } = setup();
      audit.failNext = true;
      const err = await auditor.guard(limiterOf(clock, 3), event('10.0.0.1'), async () => Promise.reject(refused('invalid api token', 'revoked'))).catch((e: unknown) => e);
      expect(isMeziteError(err, 'Unauthenticated')).toBe(true);
      expect((err as Error).message).toBe('invalid api token');
    });

    test('a dependency that is down is neither a refusal nor a failure of the caller', async () => {
      const { auditor, audit, clock } = setup();
      const limiter = limiterOf(clock, 1);
      for (let i = 0; i < 3; i++) await expect(auditor.guard(limiter, event('10.0.0.1'), async () => Promise.reject(unavailable('token-service is unavailable')))).rejects.toMatchObject({ code: 'Unavailable' });
      expect(audit.events).toHaveLength(0);
    });
  });
});
