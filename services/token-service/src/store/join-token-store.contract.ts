import { randomUUID, randomBytes } from 'node:crypto';
import { isMeziteError } from '@mezite/identity';
import type { JoinToken } from '../domain/join-token';
import type { JoinTokenStore } from '../domain/join-token-store';

/** What the contract gets from an implementation's factory. */
export interface JoinTokenStoreHarness {
  store: JoinTokenStore;
  /** The same data as a second replica sees it (its own connection pool); `store` itself in memory. */
  peer: JoinTokenStore;
  close(): Promise<void>;
}

const at = (hhmm: string) => new Date(`2026-01-01T${hhmm}:00Z`);

/** The one suite every JoinTokenStore passes (STYLE.md §4). */
export function joinTokenStoreContract(name: string, make: () => Promise<JoinTokenStoreHarness>): void {
  describe(`JoinTokenStore contract: ${name}`, () => {
    let store: JoinTokenStore;
    let peer: JoinTokenStore;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, peer, close } = await make());
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
      claimId: null,
      claimedUntil: null,
      ...over,
    });

    /** Claims `t` at `now` for one minute; the claim id, or null when refused. */
    const claim = async (t: JoinToken, now: Date, s: JoinTokenStore = store): Promise<string | null> => {
      const claimId = randomUUID();
      const got = await s.claim(t.tokenHash, { claimId, at: now, until: new Date(now.getTime() + 60_000) });
      return got ? got.claimId : null;
    };

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

    test('claim holds the token for the claim id until the given time', async () => {
      const t = token();
      await store.create(t);
      const claimId = randomUUID();
      const got = await store.claim(t.tokenHash, { claimId, at: at('00:10'), until: at('00:11') });
      expect(got).toEqual({ ...t, claimId, claimedUntil: at('00:11') });
      expect(await store.findByHash(t.tokenHash)).toEqual(got);
      expect(await store.claim(randomBytes(32), { claimId: randomUUID(), at: at('00:10'), until: at('00:11') })).toBeNull();
    });

    test.each([1, 2, 3, 4, 5])('100 concurrent claims of one token from two replicas: exactly one wins (round %i)', async () => {
      const t = token();
      await store.create(t);
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => claim(t, at('00:10'), i % 2 ? peer : store)));
      const winners = results.filter((r): r is string => r !== null);
      expect(winners).toHaveLength(1);
      expect((await store.findByHash(t.tokenHash))?.claimId).toBe(winners[0]);
    });

    test('a held token is refused; release makes it claimable again, once', async () => {
      const t = token();
      await store.create(t);
      const first = await claim(t, at('00:10'));
      expect(first).not.toBeNull();
      expect(await claim(t, at('00:10'))).toBeNull();
      expect(await store.release(first as string)).toBe(true);
      expect(await store.release(first as string)).toBe(false);
      expect((await store.findByHash(t.tokenHash))?.claimedUntil).toBeNull();
      expect(await claim(t, at('00:10'))).not.toBeNull();
    });

    test('an expired claim makes the token claimable again; the old claim can then neither confirm nor release', async () => {
      const t = token();
      await store.create(t);
      const first = (await claim(t, at('00:10'))) as string;
      expect(await claim(t, at('00:10'))).toBeNull(); // still held within its minute
      const second = await claim(t, at('00:12'));
      expect(second).not.toBeNull();
      expect(await store.confirm(first, at('00:12'))).toBe(false);
      expect(await store.release(first)).toBe(false);
      expect((await store.findByHash(t.tokenHash))?.claimId).toBe(second);
      expect(await store.confirm(second as string, at('00:12'))).toBe(true);
      expect((await store.findByHash(t.tokenHash))?.redeemedAt).toEqual(at('00:12'));
    });

    test('a confirmed token is used: it cannot be claimed, confirmed again or released', async () => {
      const t = token();
      await store.create(t);
      const c = (await claim(t, at('00:10'))) as string;
      expect(await store.confirm(c, at('00:10'))).toBe(true);
      expect(await store.confirm(c, at('00:10'))).toBe(false);
      expect(await store.release(c)).toBe(false);
      expect(await claim(t, at('00:30'))).toBeNull();
      expect((await store.findByHash(t.tokenHash))?.redeemedAt).toEqual(at('00:10'));
    });

    test('revoked, expired and redeemed tokens are refused', async () => {
      const revoked = token({ revokedAt: at('00:05') });
      const expired = token({ expiresAt: at('00:10') });
      const redeemed = token({ redeemedAt: at('00:05') });
      for (const t of [revoked, expired, redeemed]) await store.create(t);
      for (const t of [revoked, expired, redeemed]) expect(await claim(t, at('00:10'))).toBeNull();
      expect(await claim(expired, at('00:09'))).not.toBeNull(); // one minute earlier it was still valid
    });

    test('a token revoked while claimed cannot be confirmed', async () => {
      const t = token();
      await store.create(t);
      const c = (await claim(t, at('00:10'))) as string;
      expect(await store.revokeForSubject(t.tenantId, t.subjectId, at('00:10'))).toBe(1);
      expect(await store.confirm(c, at('00:10'))).toBe(false);
      expect((await store.findByHash(t.tokenHash))?.redeemedAt).toBeNull();
    });
  });
}
