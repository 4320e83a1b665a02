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
      await f.store.create(c);
      const got = await f.store.consume(c.id, at(10));
      expect({ ...got, subjectKind: got?.subjectKind ?? 'bot' }).toEqual({ ...c, subjectKind: 'bot' }); // unset means bot
      expect(await f.store.consume(c.id, at(11))).toBeNull();
      expect(await f.store.consume(randomUUID(), at(11))).toBeNull();
    });

    test('a node challenge has no bot generation; an expired challenge is never consumed', async () => {
      const { botGeneration: _none, ...node } = challenge({ subjectKind: 'node' });
      await f.store.create(node);
      expect(await f.store.consume(node.id, at(59))).toEqual(node);
      const late = challenge();
      await f.store.create(late);
      expect(await f.store.consume(late.id, at(60))).toBeNull();
    });

    test('30 concurrent consumptions from two replicas: exactly one gets the challenge', async () => {
      const c = challenge();
      await f.store.create(c);
      const got = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? f.peer : f.store).consume(c.id, at(5))));
      expect(got.filter((g) => g !== null)).toHaveLength(1);
    });
  });
}
