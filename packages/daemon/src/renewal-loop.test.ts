import { failedPrecondition, FakeClock, MeziteError, permissionDenied, unauthenticated, unavailable } from '@mezite/identity';
import { createLogger } from '@mezite/platform';
import { formatPublicKey } from '@mezite/ssh';
import { FakeTimers, settle } from './fake-timers';
import { IdentityRenewer } from './identity-renewer';
import { MemoryDestination } from './memory-destination';
import { MemoryIssuer } from './memory-issuer';
import { MemoryStateStore } from './memory-state-store';
import { RenewalLoop } from './renewal-loop';
import { HOUR, MIN, rig, since, T0 } from './renewal-rig';

test('joins at once, then renews every interval, each with a new key', async () => {
  const r = rig();
  await settle();
  expect(r.issuer.joins).toBe(1);
  expect(r.dest.written).toHaveLength(1);
  expect(since(r, T0)).toBe(20 * MIN);
  await r.timers.advance(20 * MIN);
  expect(r.issuer.renewals).toBe(1);
  expect(r.dest.written.map((i) => i.generation)).toEqual([1, 2]);
  expect(r.store.state?.identity?.generation).toBe(2);
  const [a, b] = r.dest.written;
  expect(a?.privateKey.export({ type: 'pkcs8', format: 'der' }).equals(b!.privateKey.export({ type: 'pkcs8', format: 'der' }))).toBe(false);
  await r.timers.advance(40 * MIN);
  expect(r.issuer.renewals).toBe(3);
  await r.loop.stop();
  await r.running;
  expect(r.outcome).toEqual({ settled: true });
  expect(r.timers.size).toBe(0);
});

test('the interval is jittered by ±10 %', async () => {
  for (const [random, expected] of [[0, 18 * MIN], [0.999999, 22 * MIN]] as const) {
    const r = rig();
    await settle();
    // The first wait used random = 0.5; swap in the extreme and renew to see the bound.
    (r.loop as unknown as { random: () => number }).random = () => random;
    await r.loop.renewNow();
    expect(Math.abs(since(r, T0) - expected)).toBeLessThan(1000);
    await r.loop.stop();
  }
});

test('renews by 2/3 of the certificate lifetime when the interval is longer (roles shortened the TTL)', async () => {
  const r = rig({ intervalMs: 50 * MIN, prepare: (i) => (i.ttlMs = 30 * MIN) });
  await settle();
  expect(since(r, T0)).toBe(20 * MIN);
  await r.loop.stop();
});

test('a 1-minute certificate (valid from a minute before issuance) is renewed 40 s after issuance, not 20 s', async () => {
  const r = rig({ intervalMs: 50 * MIN, prepare: (i) => (i.ttlMs = MIN) });
  await settle();
  expect(since(r, T0)).toBe(40_000);
  await r.loop.stop();
});

test('the 2/3 point is jittered by ±5 % of the life, so bots renewed together drift apart', async () => {
  const dues: number[] = [];
  for (const random of [0, 0.999]) {
    const clock = new FakeClock('2026-03-24T12:00:00Z');
    const timers = new FakeTimers(clock);
    const issuer = new MemoryIssuer(clock);
    issuer.ttlMs = MIN;
    const logger = createLogger({ service: 'mezd', write: () => undefined });
    const renewer = new IdentityRenewer({ issuer, store: new MemoryStateStore(), destinations: [new MemoryDestination()], clock, logger, authServer: '127.0.0.1:3025', caCertPem: 'unused', certificateTtlMs: MIN, joinToken: issuer.joinToken });
    const loop = new RenewalLoop({ renewer, clock, timers, logger, renewalIntervalMs: 50 * MIN, random: () => random });
    void loop.run().catch(() => undefined);
    await settle();
    dues.push((loop.nextAttemptAt?.getTime() ?? NaN) - clock.now().getTime());
    await loop.stop();
  }
  expect(dues[0]).toBe(37_000);
  expect(dues[1]).toBeGreaterThan(42_900);
  expect(dues[1]).toBeLessThanOrEqual(43_000);
});

test('a failed renewal keeps the old identity and retries with exponential backoff, capped at 1 min', async () => {
  const r = rig();
  await settle();
  const first = r.dest.written[0];
  await r.timers.advance(20 * MIN);
  expect(r.issuer.renewals).toBe(1);
  r.issuer.failAlways = unavailable('auth server 127.0.0.1:3025 is unavailable: connection refused');
  await r.timers.advance(20 * MIN);
  const delays: number[] = [];
  let last = r.clock.now().getTime();
  for (let i = 0; i < 9; i++) {
    delays.push(since(r, last));
    await r.timers.fireNext();
    last = r.clock.now().getTime();
  }
  expect(delays).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60].map((s) => s * 1000));
  expect(r.dest.written).toHaveLength(2);
  expect(r.store.state?.identity?.generation).toBe(2);
  expect(r.logs.filter((l) => l.msg === 'renewal failed')[0]).toMatchObject({ level: 'warn', code: 'Unavailable', reason: expect.stringContaining('connection refused') });
  r.issuer.failAlways = undefined;
  await r.timers.fireNext();
  expect(r.store.state?.identity?.generation).toBe(3);
  expect(since(r, r.clock.now().getTime())).toBe(20 * MIN);
  void first;
  await r.loop.stop();
});

test('a server shedding load is honoured: the retry waits its hint, jittered, and the backoff of an outage starts over', async () => {
  const r = rig();
  await settle();
  await r.timers.advance(20 * MIN);
  r.issuer.failAlways = unavailable('auth server is unavailable');
  await r.timers.advance(20 * MIN);
  for (let i = 0; i < 5; i++) await r.timers.fireNext(); // an outage: the backoff has grown to 32 s
  expect(since(r, r.clock.now().getTime())).toBe(32_000);
  // The server is back but busy: random = 0.5, so a 4 s hint is a 6 s wait, every time, whatever came before.
  r.issuer.failAlways = new MeziteError('ResourceExhausted', 'the server is busy; retry in 4s', { retryAfterMs: 4000 });
  await r.timers.fireNext();
  const delays: number[] = [];
  let last = r.clock.now().getTime();
  for (let i = 0; i < 3; i++) {
    delays.push(since(r, last));
    await r.timers.fireNext();
    last = r.clock.now().getTime();
  }
  expect(delays).toEqual([6, 6, 6].map((s) => s * 1000));
  expect(r.logs.filter((l) => l.msg === 'renewal failed').at(-1)).toMatchObject({ level: 'warn', code: 'ResourceExhausted' });
  r.issuer.failAlways = undefined;
  await r.timers.fireNext();
  expect(r.store.state?.identity?.generation).toBe(3);
  expect(r.outcome.settled).toBe(false);
  await r.loop.stop();
});

test('a join that is shed is retried after the hint too, with the same key', async () => {
  const busy = () => new MeziteError('ResourceExhausted', 'the server is busy; retry in 4s', { retryAfterMs: 4000 });
  const r = rig({ prepare: (i) => i.failures.push(unavailable('down'), busy(), busy()) });
  await settle();
  const saved = r.store.state?.pending;
  expect(saved).toMatchObject({ kind: 'join' });
  await r.timers.fireNext(); // after the outage's 1 s
  expect(since(r, r.clock.now().getTime())).toBe(6000);
  await r.timers.fireNext();
  expect(since(r, r.clock.now().getTime())).toBe(6000);
  await r.timers.fireNext();
  expect(r.issuer.joins).toBe(1);
  expect(r.logs.filter((l) => l.msg === 'join failed').map((l) => l.code)).toEqual(['Unavailable', 'ResourceExhausted', 'ResourceExhausted']);
  expect(r.issuer.requests.map((q) => q.publicKey)).toEqual([formatPublicKey(saved!.privateKey)]);
  expect(r.outcome.settled).toBe(false);
  await r.loop.stop();
});

test('a locked bot is retried at most every minute until unlocked, then renewal resumes', async () => {
  const r = rig();
  await settle();
  await r.timers.advance(20 * MIN);
  r.issuer.failAlways = permissionDenied('bot "test" is locked: investigating');
  await r.timers.advance(35 * MIN);
  const refused = r.logs.filter((l) => l.msg === 'renewal refused by the auth server');
  expect(refused.length).toBeGreaterThan(5);
  expect(refused.at(-1)).toMatchObject({ level: 'error', code: 'PermissionDenied', reason: 'bot "test" is locked: investigating' });
  expect(since(r, r.clock.now().getTime())).toBeLessThanOrEqual(60_000);
  r.issuer.failAlways = undefined;
  await r.timers.advance(60_000);
  expect(r.store.state?.identity?.generation).toBe(3);
  expect(r.outcome.settled).toBe(false);
  await r.loop.stop();
});

test('without an identity or a join token there is nothing to do: the run rejects at once', async () => {
  const r = rig({ joinToken: null });
  await settle();
  expect(r.outcome).toMatchObject({ settled: true, error: expect.objectContaining({ code: 'FailedPrecondition' }) });
});

test('keeps retrying until expiry, tries once more just before it, then ends with the expiry error', async () => {
  const first = rig();
  await settle();
  await first.loop.stop();
  const r = rig({ after: first, joinToken: null });
  await settle();
  expect(r.issuer.renewals).toBe(1);
  r.issuer.failAlways = unavailable('auth server is unavailable');
  await r.timers.advance(2 * HOUR);
  await r.running;
  expect(r.outcome.error).toMatchObject({ code: 'FailedPrecondition', message: expect.stringContaining('expired at 2026-03-24T13:00:00.000Z') });
  expect(r.logs.at(-1)).toMatchObject({ msg: 'giving up' });
  const failures = r.logs.filter((l) => l.msg === 'renewal failed');
  expect(failures.map((l) => l.retry_at).slice(-2)).toEqual(['2026-03-24T12:59:59.000Z', '2026-03-24T13:00:59.000Z']);
  expect(r.dest.written).toHaveLength(2);
});

test('without an identity, a server that is down is retried, a refused join token ends the run', async () => {
  const r = rig({ prepare: (i) => i.failures.push(unavailable('down'), unavailable('down')) });
  await settle();
  expect(r.issuer.joins).toBe(0);
  await r.timers.fireNext();
  await r.timers.fireNext();
  expect(r.issuer.joins).toBe(1);
  await r.loop.stop();

  const bad = rig({ joinToken: 'tok-bot-ffffffffffffffffffffffffffffffff' });
  await bad.running;
  expect(bad.outcome.error).toMatchObject({ code: 'Unauthenticated', message: 'invalid join token' });
  expect(bad.dest.written).toHaveLength(0);
});

test('a join token refused after a transient failure is final (no claim is held any more)', async () => {
  const r = rig({ prepare: (i) => i.failures.push(unavailable('database unavailable'), unauthenticated('invalid join token')) });
  await settle();
  expect(r.outcome.settled).toBe(false);
  await r.timers.fireNext();
  await r.running;
  expect(r.outcome.error).toMatchObject({ code: 'Unauthenticated', message: 'invalid join token' });
  expect(r.issuer.joins).toBe(0);
  expect(r.logs.filter((l) => l.msg === 'join failed')).toHaveLength(1);
  expect(r.logs.at(-1)).toMatchObject({ msg: 'giving up', code: 'Unauthenticated' });
});

test('renewNow renews at once (SIGHUP), resets the schedule and the backoff', async () => {
  const r = rig();
  await settle();
  await r.timers.advance(5 * MIN);
  r.issuer.failures.push(unavailable('down'));
  await r.loop.renewNow();
  expect(since(r, r.clock.now().getTime())).toBe(1000);
  await r.loop.renewNow();
  expect(r.issuer.renewals).toBe(1);
  expect(since(r, r.clock.now().getTime())).toBe(20 * MIN);
  expect(r.logs.filter((l) => l.msg === 'renewal requested')).toHaveLength(2);
  await r.loop.stop();
  await r.loop.renewNow(); // after stop: nothing
  expect(r.issuer.renewals).toBe(1);
});

test('a destination that cannot be written is retried; the state already moved on', async () => {
  const r = rig();
  await settle();
  r.dest.failNext(new Error('ENOSPC: no space left on device'));
  await r.loop.renewNow();
  expect(r.logs.filter((l) => l.msg === 'renewal failed').at(-1)).toMatchObject({ code: 'Internal', reason: 'ENOSPC: no space left on device' });
  await r.timers.fireNext();
  expect(r.dest.written.map((i) => i.generation)).toEqual([1, 3]);
  await r.loop.stop();
});

test('a wait is split so a host that slept renews soon after waking', async () => {
  const r = rig({ intervalMs: 50 * MIN, ttlMs: 2 * HOUR });
  await settle();
  expect(r.timers.nextDelay()).toBe(5 * MIN);
  r.clock.advance(70 * MIN); // suspended: no timer fired
  await r.timers.advance(0);
  await r.timers.fireNext();
  expect(r.issuer.renewals).toBe(1);
  await r.loop.stop();
});

test('the log never holds the join token or a private key', async () => {
  const r = rig();
  await settle();
  await r.loop.renewNow();
  r.issuer.failAlways = failedPrecondition('nope');
  await r.loop.renewNow();
  r.issuer.failAlways = unauthenticated('nope');
  await r.loop.stop();
  const text = JSON.stringify(r.logs);
  expect(text).not.toContain(r.issuer.joinToken);
  expect(text).not.toContain('PRIVATE KEY');
  expect(r.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['joined', 'renewed', 'next renewal scheduled', 'renewal refused by the auth server']));
});
