import { randomBytes, randomUUID } from 'node:crypto';
import { FakeClock, keyedHash } from '@mezite/identity';

/**
 * The work a verification does, counted where it is done: every HMAC and every
 * timingSafeEqual of node:crypto (with its operands), for this file's modules and the
 * @mezite/identity helpers they call alike.
 */
const work = { hmacs: 0, compared: [] as Array<[Buffer, Buffer]> };
jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return {
    ...actual,
    createHmac: (...args: Parameters<typeof actual.createHmac>) => {
      work.hmacs++;
      return actual.createHmac(...args);
    },
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      work.compared.push([Buffer.from(a as Uint8Array), Buffer.from(b as Uint8Array)]);
      return actual.timingSafeEqual(a, b);
    },
  };
});
const resetWork = () => {
  work.hmacs = 0;
  work.compared = [];
};
import { MemoryClientSecretStore } from '../store/memory-client-secret-store';
import { ClientSecretManager, newClientSecret } from './client-secret-manager';

function setup() {
  const store = new MemoryClientSecretStore();
  const pepper = randomBytes(32);
  const manager = new ClientSecretManager({ store, clock: new FakeClock(), pepper });
  const owner = { tenantId: randomUUID(), serviceIdentityId: randomUUID() };
  return { store, pepper, manager, owner };
}

describe('ClientSecretManager', () => {
  test('a generated secret is 32 random bytes, base64url; only its keyed hash is stored', async () => {
    const { manager, store, pepper, owner } = setup();
    const secret = await manager.set({ ...owner, clientId: 'svc-deployer' });
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = await store.find('svc-deployer');
    expect(stored?.secretHash).toEqual(keyedHash(pepper, secret));
    expect(await manager.verify({ clientId: 'svc-deployer', secret })).toEqual(owner);
  });

  test('a given secret (demo fixture) is used as is; setting again replaces the old one', async () => {
    const { manager, owner } = setup();
    await manager.set({ ...owner, clientId: 'svc-deployer', secret: 'svc-deployer-demo-secret' });
    expect(await manager.verify({ clientId: 'svc-deployer', secret: 'svc-deployer-demo-secret' })).toEqual(owner);
    const next = await manager.set({ ...owner, clientId: 'svc-deployer' });
    await expect(manager.verify({ clientId: 'svc-deployer', secret: 'svc-deployer-demo-secret' })).rejects.toMatchObject({ code: 'Unauthenticated' });
    expect(await manager.verify({ clientId: 'svc-deployer', secret: next })).toEqual(owner);
  });

  test('unknown client, wrong secret, empty secret and malformed client id get one error', async () => {
    const { manager, owner, store } = setup();
    const secret = await manager.set({ ...owner, clientId: 'svc-a' });
    const find = jest.spyOn(store, 'find');
    const attempts = [
      { clientId: 'svc-unknown', secret },
      { clientId: 'svc-a', secret: secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A') },
      { clientId: 'svc-a', secret: '' },
      { clientId: 'svc a; drop table', secret },
    ];
    for (const a of attempts) {
      await expect(manager.verify(a)).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid client credentials' });
    }
    expect(find).toHaveBeenCalledTimes(3); // the malformed client id is not looked up
  });

  // Timing cannot be asserted on a shared machine; the work can. An early return for an
  // unknown client (no decoy) or a `===`/Buffer.equals comparison changes these counts.
  describe('constant time: every verification does one HMAC and one timingSafeEqual of two 32-byte hashes', () => {
    const wrong = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');

    test('an unknown client is compared against a decoy, not skipped', async () => {
      const { manager, owner, pepper, store } = setup();
      const secret = await manager.set({ ...owner, clientId: 'svc-a' });
      const stored = (await store.find('svc-a'))?.secretHash as Buffer;
      const decoys: Buffer[] = [];
      for (const clientId of ['svc-unknown', 'svc-other']) {
        resetWork();
        await expect(manager.verify({ clientId, secret })).rejects.toMatchObject({ code: 'Unauthenticated' });
        expect(work.hmacs).toBe(1);
        expect(work.compared).toHaveLength(1);
        const [presented, against] = work.compared[0] as [Buffer, Buffer];
        expect(presented).toEqual(keyedHash(pepper, secret));
        expect(against).toHaveLength(32);
        expect(against.equals(presented)).toBe(false);
        expect(against.equals(stored)).toBe(false);
        decoys.push(against);
      }
      expect(decoys[0]).toEqual(decoys[1]); // one decoy, made once: no extra HMAC per miss
    });

    test.each([
      ['the right secret', (s: string) => s, 'resolves'],
      ['a wrong secret', wrong, 'rejects'],
      ['a wrong secret of another length', (s: string) => `${s}x`, 'rejects'],
      ['an empty secret', () => '', 'rejects'],
    ] as const)('%s of a known client is compared against its stored hash', async (_what, present, outcome) => {
      const { manager, owner, pepper, store } = setup();
      const secret = await manager.set({ ...owner, clientId: 'svc-a' });
      const stored = (await store.find('svc-a'))?.secretHash as Buffer;
      resetWork();
      const attempt = manager.verify({ clientId: 'svc-a', secret: present(secret) });
      if (outcome === 'resolves') await expect(attempt).resolves.toEqual(owner);
      else await expect(attempt).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid client credentials' });
      expect(work.hmacs).toBe(1);
      expect(work.compared).toEqual([[keyedHash(pepper, present(secret)), stored]]);
    });

    test('verifyMany does the same work per credential', async () => {
      const { manager, owner } = setup();
      const secret = await manager.set({ ...owner, clientId: 'svc-a' });
      resetWork();
      const answers = await manager.verifyMany([{ clientId: 'svc-unknown', secret }, { clientId: 'svc-a', secret: wrong(secret) }, { clientId: 'svc-a', secret }]);
      expect(answers.map((a) => ('code' in a ? a.code : 'ok'))).toEqual(['Unauthenticated', 'Unauthenticated', 'ok']);
      expect(work.hmacs).toBe(3);
      expect(work.compared).toHaveLength(3);
      for (const [a, b] of work.compared) expect([a.length, b.length, a.equals(b)]).toEqual([32, 32, expect.any(Boolean)]);
    });
  });

  test('a client id owned by another identity is AlreadyExists and keeps its secret', async () => {
    const { manager, owner } = setup();
    const secret = await manager.set({ ...owner, clientId: 'svc-a' });
    await expect(manager.set({ tenantId: owner.tenantId, serviceIdentityId: randomUUID(), clientId: 'svc-a' })).rejects.toMatchObject({ code: 'AlreadyExists' });
    expect(await manager.verify({ clientId: 'svc-a', secret })).toEqual(owner);
  });

  test.each([
    ['a tenant id that is not a UUID', { tenantId: 'x' }],
    ['a service identity id that is not a UUID', { serviceIdentityId: 'x' }],
    ['an empty client id', { clientId: '' }],
    ['a client id with spaces', { clientId: 'svc deployer' }],
    ['a client id of 129 characters', { clientId: 'a'.repeat(129) }],
    ['a given secret of 15 characters', { secret: 'x'.repeat(15) }],
  ])('set with %s is InvalidArgument', async (_what, over) => {
    const { manager, owner } = setup();
    await expect(manager.set({ ...owner, clientId: 'svc-a', ...over })).rejects.toMatchObject({ code: 'InvalidArgument' });
  });

  test('delete removes the secret; deleting again is NotFound', async () => {
    const { manager, owner } = setup();
    const secret = await manager.set({ ...owner, clientId: 'svc-a' });
    await manager.delete('svc-a');
    await expect(manager.verify({ clientId: 'svc-a', secret })).rejects.toMatchObject({ code: 'Unauthenticated' });
    await expect(manager.delete('svc-a')).rejects.toMatchObject({ code: 'NotFound' });
  });
});

describe('newClientSecret', () => {
  test('never starts with "-" (a command line would take it for an option), and stays base64url of full length', () => {
    // A random base64url string starts with "-" one time in 64: 4,000 draws would show ~60.
    const drawn = Array.from({ length: 4000 }, () => newClientSecret());
    expect(drawn.filter((s) => s.startsWith('-'))).toEqual([]);
    expect(new Set(drawn.map((s) => s.length)).size).toBe(1);
    for (const s of drawn.slice(0, 100)) expect(s).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]+$/);
    expect(new Set(drawn).size).toBe(drawn.length);
  });
});
