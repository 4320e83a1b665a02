import { randomUUID } from 'node:crypto';
import { isMeziteError } from '@mezite/identity';
import type { Bot, BotStore } from '../domain/bot';

/** The one suite every BotStore passes (STYLE.md §4). `tenants` exist in the store's world. */
export function botStoreContract(name: string, make: () => Promise<{ store: BotStore; tenants: [string, string]; close(): Promise<void> }>): void {
  describe(`BotStore contract: ${name}`, () => {
    let store: BotStore;
    let tenantA: string;
    let tenantB: string;
    let close: () => Promise<void>;
    beforeAll(async () => {
      let tenants: [string, string];
      ({ store, tenants, close } = await make());
      [tenantA, tenantB] = tenants;
    });
    afterAll(async () => close());

    const bot = (tenantId: string, name: string): Bot => ({
      id: randomUUID(),
      tenantId,
      name,
      roles: ['ci-deployer'],
      createdAt: new Date('2026-01-01T00:00:00Z'),
      generation: 0,
      lastSeenAt: null,
      certExpiresAt: null,
      lock: null,
      maxCertTtlMs: null,
    });

    test('create, get by name, and tenants do not see each other', async () => {
      const b = bot(tenantA, 'github-deploy');
      await store.create(b);
      expect(await store.get(tenantA, 'github-deploy')).toEqual(b);
      expect(await store.get(tenantB, 'github-deploy')).toBeNull();
    });

    test('the same name twice in a tenant is AlreadyExists; in another tenant it is fine', async () => {
      await store.create(bot(tenantA, 'dup'));
      const err = await store.create(bot(tenantA, 'dup')).catch((e: unknown) => e);
      expect(isMeziteError(err, 'AlreadyExists')).toBe(true);
      await expect(store.create(bot(tenantB, 'dup'))).resolves.toBeUndefined();
    });

    test('a bot\'s own certificate lifetime cap is stored and read back (null: the server default)', async () => {
      const capped = { ...bot(tenantA, 'capped'), maxCertTtlMs: 1_200_000 };
      await store.create(capped);
      expect((await store.get(tenantA, 'capped'))?.maxCertTtlMs).toBe(1_200_000);
      expect((await store.getById(tenantA, capped.id))?.maxCertTtlMs).toBe(1_200_000);
      const plain = bot(tenantA, 'uncapped');
      await store.create(plain);
      expect((await store.getById(tenantA, plain.id))?.maxCertTtlMs ?? null).toBeNull();
    });

    test('list pages by name within the tenant', async () => {
      for (const n of ['p-c', 'p-a', 'p-b']) await store.create(bot(tenantB, n));
      const names = (await store.list(tenantB, { limit: 100 })).map((b) => b.name).filter((n) => n.startsWith('p-'));
      expect(names).toEqual(['p-a', 'p-b', 'p-c']);
      expect((await store.list(tenantB, { limit: 1, afterName: 'p-a' })).map((b) => b.name)).toEqual(['p-b']);
    });

    test('locks are set, read back and cleared', async () => {
      const b = bot(tenantA, 'lockme');
      await store.create(b);
      const lock = { reason: 'incident 42', lockedAt: new Date('2026-01-01T00:00:00Z'), expiresAt: null, lockedBy: 'user:x' };
      expect(await store.setLock(tenantA, b.id, lock)).toBe(true);
      expect((await store.get(tenantA, 'lockme'))?.lock).toEqual(lock);
      expect(await store.setLock(tenantA, b.id, null)).toBe(true);
      expect((await store.get(tenantA, 'lockme'))?.lock).toBeNull();
      expect(await store.anyUsesRole(tenantA, 'ci-deployer')).toBe(true);
      expect(await store.anyUsesRole(tenantA, 'nobody-has-this')).toBe(false);
    });

    test('delete is scoped to the tenant', async () => {
      const b = bot(tenantA, 'to-remove');
      await store.create(b);
      expect(await store.delete(tenantB, b.id)).toBe(false);
      expect(await store.delete(tenantA, b.id)).toBe(true);
      expect(await store.get(tenantA, 'to-remove')).toBeNull();
    });
  });
}
