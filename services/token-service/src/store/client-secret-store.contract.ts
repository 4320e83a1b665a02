import { randomBytes, randomUUID } from 'node:crypto';
import type { ClientSecret } from '../domain/client-secret';
import type { ClientSecretStore } from '../domain/client-secret-store';

/** The one suite every ClientSecretStore passes (STYLE.md §4). */
export function clientSecretStoreContract(name: string, make: () => Promise<{ store: ClientSecretStore; close(): Promise<void> }>): void {
  describe(`ClientSecretStore contract: ${name}`, () => {
    let store: ClientSecretStore;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, close } = await make());
    });
    afterAll(async () => close());

    const secret = (over: Partial<ClientSecret> = {}): ClientSecret => ({
      clientId: `svc-${randomBytes(4).toString('hex')}`,
      tenantId: randomUUID(),
      serviceIdentityId: randomUUID(),
      secretHash: randomBytes(32),
      createdAt: new Date('2026-01-01T00:00:00Z'),
      ...over,
    });

    test('put then find returns it; an unknown client is null', async () => {
      const c = secret();
      expect(await store.put(c)).toBe(true);
      expect(await store.find(c.clientId)).toEqual(c);
      expect(await store.find('svc-unknown')).toBeNull();
    });

    test('findMany returns the secrets of the client ids that have one, in one read', async () => {
      const a = secret();
      const b = secret();
      await store.put(a);
      await store.put(b);
      const found = await store.findMany([b.clientId, 'svc-unknown', a.clientId, b.clientId]);
      expect(found.sort((x, y) => (x.clientId < y.clientId ? -1 : 1))).toEqual([a, b].sort((x, y) => (x.clientId < y.clientId ? -1 : 1)));
      expect(await store.findMany([])).toEqual([]);
    });

    test('put again by the same identity replaces the secret', async () => {
      const c = secret();
      await store.put(c);
      const next = { ...c, secretHash: randomBytes(32), createdAt: new Date('2026-01-02T00:00:00Z') };
      expect(await store.put(next)).toBe(true);
      expect(await store.find(c.clientId)).toEqual(next);
    });

    test('put of a client id owned by another identity or tenant is refused and changes nothing', async () => {
      const c = secret();
      await store.put(c);
      expect(await store.put(secret({ clientId: c.clientId, tenantId: c.tenantId }))).toBe(false);
      expect(await store.put(secret({ clientId: c.clientId, serviceIdentityId: c.serviceIdentityId }))).toBe(false);
      expect(await store.find(c.clientId)).toEqual(c);
    });

    test('delete removes the secret once', async () => {
      const c = secret();
      await store.put(c);
      expect(await store.delete(c.clientId)).toBe(true);
      expect(await store.delete(c.clientId)).toBe(false);
      expect(await store.find(c.clientId)).toBeNull();
    });

    test('rehash moves a secret to a new hash and pepper only while its hash is the old one', async () => {
      const c = secret({ pepperId: 'aaaaaaaa' });
      await store.put(c);
      const to = randomBytes(32);
      expect(await store.rehash({ clientId: c.clientId, from: randomBytes(32), to, pepperId: 'bbbbbbbb' })).toBe(false);
      expect(await store.find(c.clientId)).toEqual(c);
      expect(await store.rehash({ clientId: c.clientId, from: c.secretHash, to, pepperId: 'bbbbbbbb' })).toBe(true);
      expect(await store.find(c.clientId)).toEqual({ ...c, secretHash: to, pepperId: 'bbbbbbbb' });
      // A second replica doing the same re-hash finds the hash moved already.
      expect(await store.rehash({ clientId: c.clientId, from: c.secretHash, to: randomBytes(32), pepperId: 'cccccccc' })).toBe(false);
      expect(await store.rehash({ clientId: 'svc-unknown', from: c.secretHash, to, pepperId: 'bbbbbbbb' })).toBe(false);
    });

    test('countByPepper counts secrets by pepper id, those without one as null; stampPepper fills only those', async () => {
      const id = randomBytes(4).toString('hex');
      const count = async () => new Map((await store.countByPepper()).map((u) => [u.keyId, u.rows]));
      const before = await count();
      const legacy = secret();
      await store.put(secret({ pepperId: id }));
      await store.put(secret({ pepperId: id }));
      await store.put(legacy);
      const after = await count();
      expect(after.get(id)).toBe(2);
      expect(after.get(null)).toBe((before.get(null) ?? 0) + 1);
      const stamped = await store.stampPepper(id);
      expect(stamped).toBe(after.get(null));
      expect((await count()).get(null)).toBeUndefined();
      expect((await count()).get(id)).toBe(2 + stamped);
      expect(await store.find(legacy.clientId)).toEqual({ ...legacy, pepperId: id });
      expect(await store.stampPepper('dddddddd')).toBe(0);
    });
  });
}
