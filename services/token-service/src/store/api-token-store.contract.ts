import { randomBytes, randomUUID } from 'node:crypto';
import { isMeziteError } from '@mezite/identity';
import type { ApiToken } from '../domain/api-token';
import type { ApiTokenStore } from '../domain/api-token-store';

/** What the contract gets from an implementation's factory. */
export interface ApiTokenStoreHarness {
  store: ApiTokenStore;
  /** The same data as a second replica sees it (its own connection pool); `store` itself in memory. */
  peer: ApiTokenStore;
  close(): Promise<void>;
}

const at = (hhmm: string, day = 1) => new Date(`2026-01-0${day}T${hhmm}:00Z`);

/** The one suite every ApiTokenStore passes (STYLE.md §4). */
export function apiTokenStoreContract(name: string, make: () => Promise<ApiTokenStoreHarness>): void {
  describe(`ApiTokenStore contract: ${name}`, () => {
    let store: ApiTokenStore;
    let peer: ApiTokenStore;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, peer, close } = await make());
    });
    afterAll(async () => close());

    const token = (over: Partial<ApiToken> = {}): ApiToken => ({
      id: randomUUID(),
      tenantId: randomUUID(),
      identityKind: 'service',
      identityId: randomUUID(),
      env: 'live',
      tokenHash: randomBytes(32),
      createdAt: at('00:00'),
      expiresAt: at('00:00', 9),
      lastUsedAt: null,
      rotatedAt: null,
      rotationDeadline: null,
      revokedAt: null,
      replacedBy: null,
      ...over,
    });
    /** A successor of `t` created at `now`. */
    const successorOf = (t: ApiToken, now: Date) => token({ tenantId: t.tenantId, identityId: t.identityId, identityKind: t.identityKind, env: t.env, createdAt: now });
    const rotate = (t: ApiToken, now: Date, deadline: Date, s: ApiTokenStore = store, successor = successorOf(t, now)) =>
      s.rotate({ id: t.id, tenantId: t.tenantId, identityId: t.identityId, at: now, deadline, successor });

    test('deleteExpired removes tokens that stopped working before the cutoff, at most `limit` a call; a successor a working token names stays', async () => {
      // Dates in 2020, before any other test's, so the shared database's other rows stay.
      const old = (s: number) => new Date(Date.UTC(2020, 0, 1, 0, 0, s));
      const cut = old(1000);
      const [justBefore, justAfter, later] = [new Date(cut.getTime() - 1), new Date(cut.getTime() + 1), old(5000)];
      const base = { createdAt: old(0) };
      const gone = [token({ ...base, expiresAt: justBefore }), token({ ...base, expiresAt: later, revokedAt: justBefore }), token({ ...base, expiresAt: later, rotationDeadline: justBefore })];
      const kept = [token({ ...base, expiresAt: justAfter }), token({ ...base, expiresAt: later, revokedAt: justAfter }), token({ ...base, expiresAt: later, rotationDeadline: justAfter })];
      // A chain: a dead predecessor naming a dead successor (both go), and a working
      // predecessor (in its overlap) naming a revoked successor (which stays).
      const deadSucc = token({ ...base, expiresAt: later, revokedAt: justBefore });
      const deadPred = token({ ...base, expiresAt: later, rotationDeadline: justBefore, replacedBy: deadSucc.id });
      const keptSucc = token({ ...base, expiresAt: later, revokedAt: justBefore });
      const livePred = token({ ...base, expiresAt: later, rotationDeadline: later, replacedBy: keptSucc.id });
      for (const t of [...gone, ...kept, deadSucc, deadPred, keptSucc, livePred]) await store.create(t);
      let n = 0;
      for (let i = 0; i < 10; i++) {
        const got = await store.deleteExpired(cut, 2);
        expect(got).toBeLessThanOrEqual(2);
        n += got;
        if (got === 0) break;
      }
      expect(n).toBe(5);
      for (const t of [...gone, deadSucc, deadPred]) expect(await store.findById(t.id)).toBeNull();
      for (const t of [...kept, keptSucc, livePred]) expect(await peer.findById(t.id)).toEqual(t);
    });

    test('create, then find by hash and by id', async () => {
      const t = token({ identityKind: 'user', env: 'dev' });
      await store.create(t);
      expect(await store.findByHash(t.tokenHash)).toEqual(t);
      expect(await store.findById(t.id)).toEqual(t);
      expect(await store.findByHash(randomBytes(32))).toBeNull();
      expect(await store.findById(randomUUID())).toBeNull();
    });

    test('createMany stores every token in one write, or none of them', async () => {
      const ts = [token(), token({ identityKind: 'user', env: 'dev' }), token({ lastUsedAt: at('01:00'), rotationDeadline: at('02:00', 2) })];
      await store.createMany(ts);
      for (const t of ts) expect(await peer.findByHash(t.tokenHash)).toEqual(t);
      await store.createMany([]);

      const fresh = token();
      const err = await store.createMany([fresh, token({ tokenHash: ts[0]?.tokenHash as Buffer })]).catch((e: unknown) => e);
      expect(isMeziteError(err, 'AlreadyExists')).toBe(true);
      expect(await store.findById(fresh.id)).toBeNull();
    });

    test('a duplicate hash is AlreadyExists', async () => {
      const t = token();
      await store.create(t);
      const err = await store.create(token({ tokenHash: t.tokenHash })).catch((e: unknown) => e);
      expect(isMeziteError(err, 'AlreadyExists')).toBe(true);
    });

    test('listLive lists the identity’s working tokens, newest first', async () => {
      const base = token();
      const mine = (over: Partial<ApiToken>) => token({ tenantId: base.tenantId, identityId: base.identityId, ...over });
      const older = mine({ createdAt: at('01:00') });
      const newer = mine({ createdAt: at('02:00') });
      const inOverlap = mine({ createdAt: at('00:30'), rotatedAt: at('03:00'), rotationDeadline: at('05:00') });
      const pastDeadline = mine({ rotatedAt: at('03:00'), rotationDeadline: at('04:00') });
      const revoked = mine({ revokedAt: at('03:00') });
      const expired = mine({ expiresAt: at('04:00') });
      const otherIdentity = token({ tenantId: base.tenantId });
      for (const t of [older, newer, inOverlap, pastDeadline, revoked, expired, otherIdentity]) await store.create(t);
      const ids = (await store.listLive(base.tenantId, base.identityId, at('04:00'))).map((t) => t.id);
      expect(ids).toEqual([newer.id, older.id, inOverlap.id]);
      expect(await store.listLive(randomUUID(), base.identityId, at('04:00'))).toEqual([]);
    });

    test('rotate marks the token, stores the successor, and refuses a second rotation', async () => {
      const t = token();
      await store.create(t);
      const successor = successorOf(t, at('01:00'));
      const r = await rotate(t, at('01:00'), at('03:00'), store, successor);
      expect(r).toEqual({ rotated: { ...t, rotatedAt: at('01:00'), rotationDeadline: at('03:00'), replacedBy: successor.id }, cutOff: [] });
      expect(await store.findById(successor.id)).toEqual(successor);
      expect(await rotate(t, at('01:30'), at('03:30'))).toBeNull();
    });

    test('rotate refuses a token of another tenant or identity, a revoked one and an expired one', async () => {
      const t = token();
      const revoked = token({ revokedAt: at('00:10') });
      const expired = token({ expiresAt: at('01:00') });
      for (const x of [t, revoked, expired]) await store.create(x);
      const now = at('01:00');
      const successor = () => token({ createdAt: now });
      expect(await store.rotate({ id: t.id, tenantId: randomUUID(), identityId: t.identityId, at: now, deadline: now, successor: successor() })).toBeNull();
      expect(await store.rotate({ id: t.id, tenantId: t.tenantId, identityId: randomUUID(), at: now, deadline: now, successor: successor() })).toBeNull();
      expect(await rotate(revoked, now, at('02:00'))).toBeNull();
      expect(await rotate(expired, now, at('02:00'))).toBeNull();
      expect((await store.findById(t.id))?.rotatedAt).toBeNull();
    });

    test('rotating a successor while its predecessor is in its overlap cuts the predecessor off: two generations at most', async () => {
      const a = token();
      await store.create(a);
      const b = successorOf(a, at('01:00'));
      await rotate(a, at('01:00'), at('01:00', 3), store, b);
      const c = successorOf(b, at('02:00'));
      const r = await rotate(b, at('02:00'), at('02:00', 3), store, c);
      expect(r?.rotated).toMatchObject({ id: b.id, rotationDeadline: at('02:00', 3), replacedBy: c.id });
      expect(r?.cutOff).toEqual([{ ...a, rotatedAt: at('01:00'), rotationDeadline: at('02:00'), replacedBy: b.id }]);
      expect(await store.findById(a.id)).toMatchObject({ rotationDeadline: at('02:00') });
      const live = (await store.listLive(a.tenantId, a.identityId, at('02:00'))).map((t) => t.id);
      expect(live).toEqual([c.id, b.id]);
    });

    test('a predecessor already past its deadline or revoked is not touched by the next rotation', async () => {
      const a = token();
      await store.create(a);
      const b = successorOf(a, at('01:00'));
      await rotate(a, at('01:00'), at('01:30'), store, b);
      const r = await rotate(b, at('02:00'), at('03:00'));
      expect(r?.cutOff).toEqual([]);
      expect((await store.findById(a.id))?.rotationDeadline).toEqual(at('01:30'));
    });

    test('10 concurrent rotations of one token from two replicas: exactly one wins, one successor exists', async () => {
      const t = token();
      await store.create(t);
      const successors = Array.from({ length: 10 }, () => successorOf(t, at('01:00')));
      const results = await Promise.all(successors.map((s, i) => rotate(t, at('01:00'), at('03:00'), i % 2 ? peer : store, s)));
      expect(results.filter((r) => r !== null)).toHaveLength(1);
      const stored = await Promise.all(successors.map((s) => store.findById(s.id)));
      expect(stored.filter((s) => s !== null)).toHaveLength(1);
      expect((await store.findById(t.id))?.replacedBy).toBe(stored.find((s) => s !== null)?.id);
    });

    const revokeChain = (t: ApiToken, now: Date, s: ApiTokenStore = store) => s.revokeChain({ id: t.id, tenantId: t.tenantId, identityId: t.identityId, at: now });

    test('revokeChain revokes once; concurrent revocations from two replicas agree on one revocation', async () => {
      const t = token();
      await store.create(t);
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => revokeChain(t, at('01:00'), i % 2 ? peer : store)));
      for (const r of results) expect(r).toEqual([{ ...t, revokedAt: at('01:00') }]);
      // Again later: the first revocation stands, and the chain is answered for a retry to propagate.
      expect(await revokeChain(t, at('02:00'))).toEqual([{ ...t, revokedAt: at('01:00') }]);
    });

    test('revokeChain refuses a token of another tenant or identity, and an unknown one', async () => {
      const t = token();
      await store.create(t);
      expect(await store.revokeChain({ id: t.id, tenantId: randomUUID(), identityId: t.identityId, at: at('01:00') })).toBeNull();
      expect(await store.revokeChain({ id: t.id, tenantId: t.tenantId, identityId: randomUUID(), at: at('01:00') })).toBeNull();
      expect(await store.revokeChain({ id: randomUUID(), tenantId: t.tenantId, identityId: t.identityId, at: at('01:00') })).toBeNull();
      expect((await store.findById(t.id))?.revokedAt).toBeNull();
    });

    test('revokeChain revokes the token and every successor after it, in order; its predecessors and other tokens are untouched', async () => {
      const a = token();
      const sibling = token({ tenantId: a.tenantId, identityId: a.identityId });
      for (const t of [a, sibling]) await store.create(t);
      const b = successorOf(a, at('01:00'));
      await rotate(a, at('01:00'), at('01:00', 3), store, b);
      const c = successorOf(b, at('02:00'));
      await rotate(b, at('02:00'), at('02:00', 3), store, c);
      const d = successorOf(c, at('03:00'));
      await rotate(c, at('03:00'), at('03:00', 3), store, d);
      const dead = await revokeChain(b, at('04:00'), peer);
      expect(dead?.map((t) => t.id)).toEqual([b.id, c.id, d.id]);
      for (const t of dead ?? []) expect(t.revokedAt).toEqual(at('04:00'));
      expect(dead?.[0]).toMatchObject({ replacedBy: c.id, tokenHash: b.tokenHash });
      for (const t of [b, c, d]) expect((await store.findById(t.id))?.revokedAt).toEqual(at('04:00'));
      expect((await store.findById(a.id))?.revokedAt).toBeNull();
      expect((await store.findById(sibling.id))?.revokedAt).toBeNull();
      // A rotation of any revoked link is refused: the chain cannot grow back.
      expect(await rotate(d, at('05:00'), at('06:00'))).toBeNull();
      // Revoking the first token later reaches the rest, whose revocation stands.
      expect((await revokeChain(a, at('05:00')))?.map((t) => [t.id, t.revokedAt])).toEqual([
        [a.id, at('05:00')],
        [b.id, at('04:00')],
        [c.id, at('04:00')],
        [d.id, at('04:00')],
      ]);
    });

    test('a rotation racing with revokeChain from another replica either loses or its successor is revoked too', async () => {
      for (let i = 0; i < 20; i++) {
        const a = token();
        await store.create(a);
        const b = successorOf(a, at('01:00'));
        await rotate(a, at('01:00'), at('01:00', 3), store, b);
        const c = successorOf(b, at('02:00'));
        const [dead, rotated] = await Promise.all([revokeChain(a, at('02:00')), rotate(b, at('02:00'), at('02:00', 3), peer, c)]);
        const ids = dead?.map((t) => t.id);
        if (rotated) expect(ids).toEqual([a.id, b.id, c.id]);
        else expect(ids).toEqual([a.id, b.id]);
        for (const id of ids ?? []) expect((await store.findById(id))?.revokedAt).toEqual(at('02:00'));
        expect(await store.listLive(a.tenantId, a.identityId, at('02:00'))).toEqual([]);
      }
    });

    test('touchLastUsed records the latest use in one batch and ignores older uses and unknown ids', async () => {
      const a = token();
      const b = token({ lastUsedAt: at('05:00') });
      for (const t of [a, b]) await store.create(t);
      await store.touchLastUsed([
        { id: a.id, at: at('03:00') },
        { id: b.id, at: at('04:00') },
        { id: randomUUID(), at: at('04:00') },
      ]);
      await store.touchLastUsed([]);
      expect((await store.findById(a.id))?.lastUsedAt).toEqual(at('03:00'));
      expect((await store.findById(b.id))?.lastUsedAt).toEqual(at('05:00'));
    });

    test('addUsage sums a batch per (token, hour, source, client) across writes and replicas, widening first/last seen; listUsage reads newest hour first', async () => {
      const t = token();
      await store.create(t);
      const h1 = at('10:00');
      const h2 = at('11:00');
      const row = (hour: Date, source: string, client: string, count: number, first: string, last: string) => ({ tokenId: t.id, hour, source, client, count, firstSeen: at(first), lastSeen: at(last) });
      await store.addUsage([row(h1, '10.2.0.7', 'deploy-bot/1.4', 200, '10:05', '10:50'), row(h1, '127.0.0.2', 'curl/8', 1, '10:10', '10:10'), row(h1, '10.2.0.7', 'deploy-bot/1.4', 4, '10:01', '10:20')], 16);
      await peer.addUsage([row(h1, '10.2.0.7', 'deploy-bot/1.4', 10, '10:30', '10:59'), row(h2, '10.2.0.7', 'deploy-bot/1.4', 3, '11:00', '11:02'), { ...row(h2, 'x', 'y', 5, '11:00', '11:00'), tokenId: randomUUID() }], 16);
      await store.addUsage([], 16);
      expect(await peer.listUsage(t.id, h1)).toEqual([
        row(h2, '10.2.0.7', 'deploy-bot/1.4', 3, '11:00', '11:02'),
        row(h1, '10.2.0.7', 'deploy-bot/1.4', 214, '10:01', '10:59'),
        row(h1, '127.0.0.2', 'curl/8', 1, '10:10', '10:10'),
      ]);
      expect(await store.listUsage(t.id, h2)).toHaveLength(1);
      expect(await store.listUsage(randomUUID(), h1)).toEqual([]);
    });

    test('addUsage keeps at most maxPresenters rows per token and hour across writes and replicas: a new presenter past them adds to `other`', async () => {
      const t = token();
      await store.create(t);
      const h = at('12:00');
      const row = (source: string, count: number, client = 'ua') => ({ tokenId: t.id, hour: h, source, client, count, firstSeen: at('12:01'), lastSeen: at('12:02') });
      await store.addUsage([row('10.0.0.1', 5), row('10.0.0.2', 9), row('10.0.0.3', 1)], 2);
      await peer.addUsage([row('10.0.0.4', 7), row('10.0.0.1', 1)], 2);
      await store.addUsage([row('other', 2, '')], 2);
      // 10.0.0.2 (most uses) and 10.0.0.1 (first write) keep their rows; 10.0.0.3 and 10.0.0.4 go to other (1 + 7 + 2).
      expect((await store.listUsage(t.id, h)).map((u) => [u.source, u.client, u.count])).toEqual([
        ['other', '', 10],
        ['10.0.0.2', 'ua', 9],
        ['10.0.0.1', 'ua', 6],
      ]);
    });

    test('deleteUsageBefore deletes at most `limit` rows last seen before the cutoff', async () => {
      const t = token();
      await store.create(t);
      const old = (m: number) => new Date(Date.UTC(2020, 0, 1, 0, m));
      const rows = [0, 1, 2].map((i) => ({ tokenId: t.id, hour: old(0), source: `10.0.0.${i}`, client: '', count: 1, firstSeen: old(i), lastSeen: old(i) }));
      await store.addUsage([...rows, { tokenId: t.id, hour: old(60), source: 'kept', client: '', count: 1, firstSeen: old(70), lastSeen: old(70) }], 16);
      expect(await store.deleteUsageBefore(old(10), 2)).toBe(2);
      expect(await store.deleteUsageBefore(old(10), 10)).toBeGreaterThanOrEqual(1);
      expect((await store.listUsage(t.id, old(0))).map((u) => u.source)).toEqual(['kept']);
    });

    test('finishRotation moves a rotated token\'s deadline to now, once, only for its owner', async () => {
      const t = token();
      await store.create(t);
      expect(await store.finishRotation({ id: t.id, tenantId: t.tenantId, identityId: t.identityId, at: at('01:00') })).toBeNull();
      expect(await rotate(t, at('01:00'), at('01:00', 3))).not.toBeNull();
      expect(await store.finishRotation({ id: t.id, tenantId: randomUUID(), identityId: t.identityId, at: at('02:00') })).toBeNull();
      const both = await Promise.all([store.finishRotation({ id: t.id, tenantId: t.tenantId, identityId: t.identityId, at: at('02:00') }), peer.finishRotation({ id: t.id, tenantId: t.tenantId, identityId: t.identityId, at: at('02:00') })]);
      expect(both.filter(Boolean)).toHaveLength(1);
      expect((await store.findById(t.id))?.rotationDeadline).toEqual(at('02:00'));
      expect(await store.listLive(t.tenantId, t.identityId, at('02:00'))).not.toContainEqual(expect.objectContaining({ id: t.id }));
    });

    test('findByHashes finds a token by any of several hashes in one read; rehash moves it to another hash and pepper once', async () => {
      const t = token({ pepperId: 'aaaaaaaa' });
      await store.create(t);
      const to = randomBytes(32);
      expect(await store.findByHashes([randomBytes(32), t.tokenHash])).toEqual(t);
      expect(await store.findByHashes([randomBytes(32), randomBytes(32)])).toBeNull();
      expect(await store.findByHashes([])).toBeNull();
      expect(await store.rehash({ id: t.id, from: randomBytes(32), to, pepperId: 'bbbbbbbb' })).toBe(false);
      const both = await Promise.all([store.rehash({ id: t.id, from: t.tokenHash, to, pepperId: 'bbbbbbbb' }), peer.rehash({ id: t.id, from: t.tokenHash, to, pepperId: 'bbbbbbbb' })]);
      expect(both.filter(Boolean)).toHaveLength(1);
      expect(await peer.findByHash(to)).toEqual({ ...t, tokenHash: to, pepperId: 'bbbbbbbb' });
      expect(await peer.findByHash(t.tokenHash)).toBeNull();
      expect(await store.rehash({ id: randomUUID(), from: to, to: randomBytes(32), pepperId: 'bbbbbbbb' })).toBe(false);
    });

    test('countLiveByPepper counts working tokens by pepper id (null: none recorded); stampPepper fills only the unrecorded', async () => {
      const id = randomBytes(4).toString('hex');
      const now = at('12:00', 2);
      const count = async () => new Map((await store.countLiveByPepper(now)).map((u) => [u.keyId, u.rows]));
      const before = await count();
      const legacy = token();
      for (const t of [token({ pepperId: id }), token({ pepperId: id, revokedAt: at('01:00') }), token({ pepperId: id, expiresAt: at('11:00', 2) }), token({ pepperId: id, rotationDeadline: at('11:00', 2) }), legacy]) await store.create(t);
      const after = await count();
      expect(after.get(id)).toBe(1);
      expect(after.get(null)).toBe((before.get(null) ?? 0) + 1);
      const stamped = await store.stampPepper(id);
      expect(stamped).toBeGreaterThanOrEqual(after.get(null) ?? 0);
      expect((await count()).get(null)).toBeUndefined();
      expect(await store.findById(legacy.id)).toEqual({ ...legacy, pepperId: id });
      expect(await store.stampPepper('dddddddd')).toBe(0);
    });
  });
}
