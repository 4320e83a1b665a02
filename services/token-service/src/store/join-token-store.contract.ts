import { randomUUID, randomBytes } from 'node:crypto';
import { isMeziteError } from '@mezite/identity';
import type { JoinToken } from '../domain/join-token';
import type { JoinTokenStore } from '../domain/join-token-store';

/** The one suite every JoinTokenStore passes (STYLE.md §4). */
export function joinTokenStoreContract(name: string, make: () => Promise<{ store: JoinTokenStore; close(): Promise<void> }>): void {
  describe(`JoinTokenStore contract: ${name}`, () => {
    let store: JoinTokenStore;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, close } = await make());
    });
    afterAll(async () => close());

    const token = (over: Partial<JoinToken> = {}): JoinToken => ({
      id: randomUUID(),
      tenantId: randomUUID(),
      subjectKind: 'bot',
      subjectId: randomUUID(),
      tokenHash: randomBytes(32),
      createdAt: new Date('2026-01-01T00:00:00Z'),
      expiresAt: new Date('2026-01-01T01:00:00Z'),
      redeemedAt: null,
      revokedAt: null,
      ...over,
    });

    test('create then findByHash returns the same token', async () => {
      const t = token();
      await store.create(t);
      const got = await store.findByHash(t.tokenHash);
      expect(got).toEqual(t);
      expect(await store.findByHash(randomBytes(32))).toBeNull();
    });

    test('a duplicate hash is AlreadyExists', async () => {
      const t = token();
      await store.create(t);
      const err = await store.create(token({ tokenHash: t.tokenHash })).catch((e: unknown) => e);
      expect(isMeziteError(err, 'AlreadyExists')).toBe(true);
    });

    test('revokeForSubject revokes only the live tokens of that subject', async () => {
      const tenantId = randomUUID();
      const subjectId = randomUUID();
      const a = token({ tenantId, subjectId });
      const b = token({ tenantId, subjectId, redeemedAt: new Date('2026-01-01T00:10:00Z') });
      const other = token({ tenantId });
      for (const t of [a, b, other]) await store.create(t);
      const at = new Date('2026-01-01T00:30:00Z');
      expect(await store.revokeForSubject(tenantId, subjectId, at)).toBe(1);
      expect((await store.findByHash(a.tokenHash))?.revokedAt).toEqual(at);
      expect((await store.findByHash(b.tokenHash))?.revokedAt).toBeNull();
      expect((await store.findByHash(other.tokenHash))?.revokedAt).toBeNull();
      expect(await store.revokeForSubject(tenantId, subjectId, at)).toBe(0);
    });
  });
}
