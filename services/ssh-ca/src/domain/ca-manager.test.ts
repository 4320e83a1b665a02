import { randomBytes } from 'node:crypto';
import { FakeClock, isMeziteError } from '@mezite/identity';
import { MemoryCertAuthorityStore } from '../store/memory-cert-authority-store';
import { MemoryIssuedCertificateStore } from '../store/memory-issued-certificate-store';
import { CaManager } from './ca-manager';

function setup() {
  const clock = new FakeClock('2026-05-01T00:00:00Z');
  const issued = new MemoryIssuedCertificateStore();
  const store = new MemoryCertAuthorityStore();
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    clock.advance(ms);
  };
  const cas = new CaManager({ store, clock, kek: randomBytes(32), algorithm: 'ed25519', issued, sleep });
  return { clock, issued, store, cas, sleeps };
}

const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
};

test('a rotation runs init → switch → complete; trust and signing follow each phase', async () => {
  const { cas, issued, clock } = setup();
  const [user] = await cas.ensure();
  expect(await cas.nextPhase('user')).toBe('init');

  const afterInit = await cas.rotate('user', 'init');
  expect(afterInit.map((c) => c.state)).toEqual(['active', 'next']);
  expect(afterInit[0]?.id).toBe(user?.id);
  const next = afterInit[1];
  expect(await cas.nextPhase('user')).toBe('switch');
  // The host CA is untouched.
  expect((await cas.list('host')).map((c) => c.state)).toEqual(['active']);

  // A certificate of the old CA, valid for another hour.
  await issued.insert({ caId: user!.id, serial: 5n, type: 'user', keyId: 'bot:x/5', principals: ['deploy'], subjectId: null, tenantId: null, publicKeyFingerprint: 'SHA256:x', validAfter: clock.now(), validBefore: new Date(clock.now().getTime() + 3600_000), createdAt: clock.now() });

  const afterSwitch = await cas.rotate('user', 'switch');
  expect(afterSwitch.map((c) => [c.id, c.state])).toEqual([
    [user!.id, 'previous'],
    [next!.id, 'active'],
  ]);
  expect(afterSwitch[0]?.lastCertificateExpiresAt).toEqual(new Date('2026-05-01T01:00:00Z'));
  expect(await cas.nextPhase('user')).toBe('complete');

  // Completing while the old CA's certificates are valid would break them: refused, naming when it will work.
  const early = await failure(cas.rotate('user', 'complete'));
  expect(isMeziteError(early, 'FailedPrecondition')).toBe(true);
  expect(early.message).toContain('2026-05-01T01:00:00.000Z');
  expect((await cas.list('user')).map((c) => c.state)).toEqual(['previous', 'active']);

  clock.advance(3600_000);
  const done = await cas.rotate('user', 'complete');
  expect(done.map((c) => [c.id, c.state])).toEqual([[next!.id, 'active']]);
  // The retired CA is still known to the signer (never certified), not trusted.
  expect((await cas.listAll()).find((c) => c.id === user!.id)?.state).toBe('retired');
  expect(await cas.nextPhase('user')).toBe('init');
});

test('--force completes at once; rollback drops a CA that never signed', async () => {
  const { cas } = setup();
  await cas.ensure();
  await cas.rotate('host', 'init');
  const rolled = await cas.rotate('host', 'rollback');
  expect(rolled.map((c) => c.state)).toEqual(['active']);
  await cas.rotate('host', 'init');
  await cas.rotate('host', 'switch');
  expect(isMeziteError(await failure(cas.rotate('host', 'rollback')), 'FailedPrecondition')).toBe(true);
  const forced = await cas.rotate('host', 'complete', { force: true });
  expect(forced.map((c) => c.state)).toEqual(['active']);
});

test('phases out of order are FailedPrecondition saying what to run, and change nothing', async () => {
  const { cas } = setup();
  await cas.ensure();
  const before = await cas.listAll();
  for (const [phase, hint] of [
    ['switch', /--phase init/],
    ['complete', /--phase init/],
    ['rollback', /phase init/],
  ] as const) {
    const err = await failure(cas.rotate('user', phase));
    expect(isMeziteError(err, 'FailedPrecondition')).toBe(true);
    expect(err.message).toMatch(hint);
  }
  await cas.rotate('user', 'init');
  expect((await failure(cas.rotate('user', 'init'))).message).toMatch(/already in phase init/);
  expect((await failure(cas.rotate('user', 'complete'))).message).toMatch(/--phase switch/);
  await cas.rotate('user', 'switch');
  expect((await failure(cas.rotate('user', 'init'))).message).toMatch(/--phase complete/);
  expect((await cas.listAll()).length).toBe(before.length + 1);
});

test('complete right after switch first waits until every replica\'s signer has re-read the CAs (refresh + 1 s), with --force too', async () => {
  for (const force of [false, true]) {
    const { cas, clock, sleeps } = setup();
    await cas.ensure();
    await cas.rotate('user', 'init');
    await cas.rotate('user', 'switch');
    clock.advance(2000);
    const done = await cas.rotate('user', 'complete', { force });
    // Switched 2 s ago; a signer may use what it read before for 5 s, plus a second of margin.
    expect(sleeps).toEqual([4000]);
    expect(done.map((c) => c.state)).toEqual(['active']);
  }
});

test('complete long after switch does not wait', async () => {
  const { cas, clock, sleeps } = setup();
  await cas.ensure();
  await cas.rotate('user', 'init');
  await cas.rotate('user', 'switch');
  clock.advance(60_000);
  await cas.rotate('user', 'complete');
  expect(sleeps).toEqual([]);
});
