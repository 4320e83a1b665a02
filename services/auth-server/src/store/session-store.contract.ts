import { randomBytes, randomUUID } from 'node:crypto';
import type { Session, SessionStore } from '../domain/session';

/** What a contract run needs of the store's world. */
export interface SessionStoreFixture {
  store: SessionStore;
  /** A second view of the same data (another replica; the store itself in memory). */
  peer: SessionStore;
  /** A tenant of its own (created where the schema needs it). */
  newTenant(): Promise<string>;
  close(): Promise<void>;
}

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

/** The one suite every SessionStore passes (STYLE.md §4). */
export function sessionStoreContract(name: string, make: () => Promise<SessionStoreFixture>): void {
  describe(`SessionStore contract: ${name}`, () => {
    let f: SessionStoreFixture;
    beforeAll(async () => {
      f = await make();
    });
    afterAll(async () => f?.close());

    const session = async (over: Partial<Session> = {}): Promise<Session> => {
      const s: Session = {
        id: randomUUID(),
        tenantId: await f.newTenant(),
        principalKind: 'user',
        principalId: randomUUID(),
        name: 'alice',
        authMethod: 'interactive-session',
        roles: ['admin'],
        acr: null,
        amr: [],
        tokenHash: randomBytes(32),
        createdAt: t(0),
        expiresAt: t(3600),
        revokedAt: null,
        ...over,
      };
      await f.store.create(s);
      return s;
    };

    test('create, then find by its hash or by any of several hashes; revoke', async () => {
      const s = await session({ pepperId: 'aaaaaaaa', amr: ['pwd'], acr: 'urn:x' });
      expect(await f.peer.findByHash(s.tokenHash)).toEqual(s);
      expect(await f.peer.findByHashes([randomBytes(32), s.tokenHash])).toEqual(s);
      expect(await f.store.findByHashes([randomBytes(32)])).toBeNull();
      expect(await f.store.findByHashes([])).toBeNull();
      expect(await f.store.findByHash(randomBytes(32))).toBeNull();
      await f.store.revoke(s.id, t(10));
      await f.store.revoke(s.id, t(20));
      expect((await f.store.findByHash(s.tokenHash))?.revokedAt).toEqual(t(10));
    });

    test('rehash moves a session to a new hash and pepper once, only from its current hash', async () => {
      const s = await session({ pepperId: 'aaaaaaaa' });
      const to = randomBytes(32);
      expect(await f.store.rehash({ id: s.id, from: randomBytes(32), to, pepperId: 'bbbbbbbb' })).toBe(false);
      const both = await Promise.all([f.store.rehash({ id: s.id, from: s.tokenHash, to, pepperId: 'bbbbbbbb' }), f.peer.rehash({ id: s.id, from: s.tokenHash, to, pepperId: 'bbbbbbbb' })]);
      expect(both.filter(Boolean)).toHaveLength(1);
      expect(await f.peer.findByHash(to)).toEqual({ ...s, tokenHash: to, pepperId: 'bbbbbbbb' });
      expect(await f.peer.findByHash(s.tokenHash)).toBeNull();
    });

    test('countLiveByPepper counts live sessions by pepper id (null: none recorded); stampPepper fills only those', async () => {
      const id = randomBytes(4).toString('hex');
      const count = async () => new Map((await f.store.countLiveByPepper(t(100))).map((u) => [u.keyId, u.rows]));
      const before = await count();
      await session({ pepperId: id });
      await session({ pepperId: id, revokedAt: t(5) });
      await session({ pepperId: id, expiresAt: t(50) });
      const legacy = await session();
      const after = await count();
      expect(after.get(id)).toBe(1);
      expect(after.get(null)).toBe((before.get(null) ?? 0) + 1);
      expect(await f.store.stampPepper(id)).toBeGreaterThanOrEqual(1);
      expect((await count()).get(null)).toBeUndefined();
      expect(await f.store.findByHash(legacy.tokenHash)).toEqual({ ...legacy, pepperId: id });
      expect(await f.store.stampPepper('dddddddd')).toBe(0);
    });
  });
}
