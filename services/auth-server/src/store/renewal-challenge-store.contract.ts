import { randomBytes, randomUUID } from 'node:crypto';
import type { RenewalChallenge, RenewalChallengeStore } from '../domain/renewal-challenge';

/** What a contract run needs: a store, and a second view of the same data (another replica; the store itself in memory). */
export interface RenewalChallengeStoreFixture {
  store: RenewalChallengeStore;
  peer: RenewalChallengeStore;
  close(): Promise<void>;
}

/** The one suite every RenewalChallengeStore passes (STYLE.md §4). */
export function renewalChallengeStoreContract(name: string, make: () => Promise<RenewalChallengeStoreFixture>): void {
  describe(`RenewalChallengeStore contract: ${name}`, () => {
    let f: RenewalChallengeStoreFixture;
    beforeAll(async () => {
      f = await make();
    });
    afterAll(async () => f?.close());

    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
    const challenge = (over: Partial<RenewalChallenge> = {}): RenewalChallenge => ({
      id: randomUUID(),
      botId: randomUUID(),
      tenantId: randomUUID(),
      challenge: randomBytes(32),
      certificate: 'ecdsa-sha2-nistp256-cert-v01@openssh.com AAAA bot',
      presentedGeneration: 7,
      botGeneration: 7,
      expiresAt: at(60),
      ...over,
    });

    test('a challenge is consumed once, with everything it was created with', async () => {
      const c = challenge();
      await f.store.create(c, { keep: 4, now: at(0) });
      const got = await f.store.consume(c.id, at(10));
      expect({ ...got, subjectKind: got?.subjectKind ?? 'bot' }).toEqual({ ...c, subjectKind: 'bot' }); // unset means bot
      expect(await f.store.consume(c.id, at(11))).toBeNull();
      expect(await f.store.consume(randomUUID(), at(11))).toBeNull();
    });

    test('a node challenge has no bot generation; an expired challenge is never consumed', async () => {
      const { botGeneration: _none, ...node } = challenge({ subjectKind: 'node' });
      await f.store.create(node, { keep: 4, now: at(0) });
      expect(await f.store.consume(node.id, at(59))).toEqual(node);
      const late = challenge();
      await f.store.create(late, { keep: 4, now: at(0) });
      expect(await f.store.consume(late.id, at(60))).toBeNull();
    });

    test('a subject keeps at most `keep` unused challenges: the newest; expired ones go; other subjects are untouched', async () => {
      const node = { subjectKind: 'node' as const, botId: randomUUID(), tenantId: randomUUID() };
      const other = challenge({ ...node, botId: randomUUID() });
      await f.store.create(other, { keep: 3, now: at(0) });
      const made: RenewalChallenge[] = [];
      for (let i = 1; i <= 6; i++) {
        const c = challenge({ ...node, expiresAt: at(60 + i) });
        made.push(c);
        await f.store.create(c, { keep: 3, now: at(i) });
      }
      // The three newest are there (consumable once); the three before them are gone.
      for (const c of made.slice(0, 3)) expect(await f.store.consume(c.id, at(10))).toBeNull();
      expect(await f.store.consume(made[3]!.id, at(10))).not.toBeNull();
      expect(await f.store.consume(other.id, at(10))).not.toBeNull();
      // A used challenge does not count; an expired one is dropped by the next creation.
      const late = challenge({ ...node, expiresAt: at(200) });
      await f.store.create(late, { keep: 2, now: at(100) });
      expect(await f.store.consume(made[5]!.id, at(50))).toBeNull();
      expect(await f.store.consume(late.id, at(150))).not.toBeNull();
    });

    test('20 concurrent creations for one subject from two replicas leave at most `keep` unused challenges', async () => {
      const node = { subjectKind: 'node' as const, botId: randomUUID(), tenantId: randomUUID() };
      const made = Array.from({ length: 20 }, (_, i) => challenge({ ...node, expiresAt: at(100 + i) }));
      await Promise.all(made.map((c, i) => (i % 2 ? f.peer : f.store).create(c, { keep: 3, now: at(1) })));
      const left = (await Promise.all(made.map((c) => f.store.consume(c.id, at(2))))).filter((c) => c !== null);
      expect(left.length).toBeGreaterThanOrEqual(1);
      expect(left.length).toBeLessThanOrEqual(3);
    });

    test('deleteExpired removes challenges that expired before the cutoff, used or not, at most `limit` a call', async () => {
      // Dates in 2020, before any other test's, so the shared store's other rows stay.
      const old = (s: number) => new Date(Date.UTC(2020, 0, 1, 0, 0, s));
      const cut = old(1000);
      const gone = [challenge({ expiresAt: old(10) }), challenge({ expiresAt: new Date(cut.getTime() - 1) })];
      const kept = challenge({ expiresAt: new Date(cut.getTime() + 1) });
      for (const c of [...gone, kept]) await f.store.create(c, { keep: 4, now: old(0) });
      expect(await f.store.consume(gone[0]!.id, old(5))).not.toBeNull(); // a used one goes too
      expect(await f.store.deleteExpired(cut, 1)).toBe(1);
      expect(await f.store.deleteExpired(cut, 5)).toBe(1);
      expect(await f.store.deleteExpired(cut, 5)).toBe(0);
      expect(await f.store.consume(gone[1]!.id, old(5))).toBeNull();
      expect(await f.store.consume(kept.id, old(5))).not.toBeNull();
    });

    test('30 concurrent consumptions from two replicas: exactly one gets the challenge', async () => {
      const c = challenge();
      await f.store.create(c, { keep: 4, now: at(0) });
      const got = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? f.peer : f.store).consume(c.id, at(5))));
      expect(got.filter((g) => g !== null)).toHaveLength(1);
    });
  });
}
