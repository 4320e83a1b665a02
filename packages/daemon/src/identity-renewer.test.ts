import { arch, hostname, platform, release } from 'node:os';
import { formatPublicKey } from '@mezite/ssh';
import { settle } from './fake-timers';
import { mezdVersion } from './heartbeat';
import { joinTokenHash } from './identity-state';
import { MIN, rig, T0 } from './renewal-rig';

// The renewer's keys and heartbeat, driven through the renewal loop: each step's key is
// saved before it is sent and sent again on every retry, which the in-memory issuer
// answers as the auth server does (the same certificate again, or a lock for a copy).

test('a join whose response was lost is retried with the same key and gets the same certificate', async () => {
  const r = rig({ prepare: (i) => (i.loseResponses = 2) });
  await settle();
  expect(r.issuer.joins).toBe(1);
  expect(r.renewer.current()).toBeUndefined();
  expect(r.logs.find((l) => l.msg === 'join failed')).toMatchObject({ level: 'warn', code: 'Unavailable' });
  // The key was saved before the first request, with what it is for (and no CA pinned yet).
  expect(r.store.state).toMatchObject({ pending: { kind: 'join', joinTokenHash: joinTokenHash(r.issuer.joinToken) } });
  expect(r.store.state?.identity).toBeUndefined();
  expect(r.store.state?.caCertPem).toBeUndefined();
  await r.timers.fireNext();
  await r.timers.fireNext();
  expect(r.issuer.requests.map((q) => q.kind)).toEqual(['join', 'join', 'join']);
  expect(new Set(r.issuer.requests.map((q) => q.publicKey)).size).toBe(1);
  expect(r.issuer).toMatchObject({ joins: 1, replays: 2 });
  expect(r.renewer.current()?.generation).toBe(1);
  expect(formatPublicKey(r.renewer.current()!.privateKey)).toBe(r.issuer.requests[0]?.publicKey);
  expect(r.store.state).toMatchObject({ caCertPem: 'unused', joinTokenHash: joinTokenHash(r.issuer.joinToken), identity: { generation: 1, instanceId: r.issuer.instanceId } });
  expect(r.store.state?.pending).toBeUndefined();
  expect(r.outcome.settled).toBe(false);
  await r.loop.stop();
});

test('a renewal whose response was lost is retried with the same new key: same certificate, the instance is not locked', async () => {
  const r = rig();
  await settle();
  r.issuer.loseResponses = 1;
  await r.loop.renewNow();
  expect(r.issuer.renewals).toBe(1); // the server moved on to generation 2…
  expect(r.renewer.current()?.generation).toBe(1); // …but the daemon did not hear it
  expect(r.logs.filter((l) => l.msg === 'renewal failed').at(-1)).toMatchObject({ code: 'Unavailable' });
  await r.timers.fireNext();
  const [, lost, retried] = r.issuer.requests;
  expect(lost).toMatchObject({ kind: 'renew', presentedGeneration: 1 });
  expect(retried).toMatchObject({ kind: 'renew', presentedGeneration: 1, publicKey: lost?.publicKey });
  expect(r.issuer).toMatchObject({ renewals: 1, replays: 1, lockReason: undefined });
  expect(r.renewer.current()?.generation).toBe(2);
  expect(r.store.state?.identity?.generation).toBe(2);
  await r.loop.renewNow();
  expect(r.store.state?.identity?.generation).toBe(3);
  expect(r.issuer.lockReason).toBeUndefined();
  await r.loop.stop();
});

test('the same step with another key is what the server takes for a copy: it locks the instance, and the log says so', async () => {
  const r = rig();
  await settle();
  r.issuer.loseResponses = 1;
  await r.loop.renewNow();
  await r.loop.stop();
  // A daemon that forgot its pending key (an older mezd) presents generation 1 with a new one.
  r.store.state = { ...r.store.state!, pending: undefined };
  const again = rig({ after: r });
  await settle();
  expect(r.issuer.lockReason).toContain('presented again with another key');
  const refused = again.logs.find((l) => l.msg === 'renewal refused by the auth server');
  expect(refused).toMatchObject({ level: 'error', code: 'PermissionDenied', reason: expect.stringContaining('is locked'), hint: expect.stringContaining('a copy of these credentials was used') });
  expect(again.outcome.settled).toBe(false); // retried in case an admin unlocks it
  await again.loop.stop();
});

test('a restart with a pending key in the state reuses it', async () => {
  const r = rig();
  await settle();
  r.issuer.loseResponses = 1;
  await r.loop.renewNow();
  await r.loop.stop(); // the daemon stops (or crashes) before its retry
  const pending = r.store.state?.pending;
  expect(pending).toMatchObject({ kind: 'renew' });
  const restarted = rig({ after: r });
  await settle();
  const retried = r.issuer.requests.at(-1);
  expect(retried?.publicKey).toBe(formatPublicKey(pending!.privateKey));
  expect(r.issuer).toMatchObject({ renewals: 1, replays: 1, lockReason: undefined });
  expect(restarted.renewer.current()?.generation).toBe(2);
  expect(restarted.logs.find((l) => l.msg === 'retrying with the saved key')).toMatchObject({ step: 'renew' });
  await restarted.loop.stop();
});

test('the key is saved before it is sent: a failed save fails the attempt without a request, and is tried again', async () => {
  const r = rig();
  await settle();
  const sent = r.issuer.requests.length;
  r.store.failNext(new Error('ENOSPC: no space left on device'), (s) => s.pending !== undefined);
  await r.loop.renewNow();
  expect(r.issuer.requests).toHaveLength(sent);
  expect(r.logs.filter((l) => l.msg === 'renewal failed').at(-1)).toMatchObject({ reason: 'ENOSPC: no space left on device' });
  await r.timers.fireNext();
  expect(r.issuer.requests).toHaveLength(sent + 1);
  expect(r.store.state?.identity?.generation).toBe(2);
  await r.loop.stop();
});

test('every request carries the heartbeat: version, machine, schedule and the destinations\' health after the previous write', async () => {
  const r = rig();
  await settle();
  const first = r.issuer.requests[0]?.heartbeat;
  expect(first).toEqual({ version: mezdVersion(), hostname: hostname(), os: `${platform()} ${release()} ${arch()}`, renewalIntervalSeconds: 1200, oneShot: false, destinations: [] });
  expect(mezdVersion()).toMatch(/^\d+\.\d+\.\d+/);
  await r.loop.renewNow();
  expect(r.issuer.requests[1]?.heartbeat?.destinations).toEqual([{ destination: 'memory', healthy: true, error: '', updateTime: new Date(T0) }]);
  const long = `EACCES: permission denied, open '/srv/certs/${'x'.repeat(300)}'`;
  r.clock.advance(MIN);
  r.dest.failNext(new Error(long));
  await r.loop.renewNow();
  await r.timers.fireNext();
  const health = r.issuer.requests.at(-1)?.heartbeat?.destinations;
  expect(health).toEqual([{ destination: 'memory', healthy: false, error: long.slice(0, 200), updateTime: new Date(T0) }]);
  await r.loop.stop();
});

test('a failed save keeps the new identity in memory, so the next renewal presents the newest generation', async () => {
  const r = rig();
  await settle();
  r.store.failNext(undefined, (s) => s.pending === undefined); // the save after the answer, not the pending key's
  await r.loop.renewNow();
  expect(r.store.state?.identity?.generation).toBe(1);
  // The data dir still holds the key the answer certified: a restart now would present generation 1 with it again.
  expect(formatPublicKey(r.store.state!.pending!.privateKey)).toBe(formatPublicKey(r.renewer.current()!.privateKey));
  expect(r.renewer.current()?.generation).toBe(2);
  expect(r.dest.written).toHaveLength(1);
  await r.timers.fireNext();
  expect(r.store.state?.identity?.generation).toBe(3);
  expect(r.dest.written.map((i) => i.generation)).toEqual([1, 3]);
  await r.loop.stop();
});
