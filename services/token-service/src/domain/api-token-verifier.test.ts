import { FakeClock, keyedHash, unavailable, apiTokenChecksum } from '@mezite/identity';
import { MemoryCache, nullLogger, type Cache } from '@mezite/platform';
import { apiTokenReplica, failure, until } from './api-token-harness';
import { ApiTokenCache } from './api-token-cache';
import { ApiTokenVerifier } from './api-token-verifier';
import { LastUseRecorder } from './last-use-recorder';

/**
 * A Cache that can go down (every call Unavailable, subscribers told messages may be
 * lost, as RedisCache does when its connection drops) and come back empty, like a
 * Redis without persistence restarting.
 */
class OutageCache implements Cache {
  private inner: MemoryCache;
  private readonly gaps = new Set<() => void>();
  private readonly subs: Array<{ channel: string; onMessage: (m: string) => void }> = [];
  down = false;
  constructor(private readonly clock: FakeClock) {
    this.inner = new MemoryCache({ clock });
  }
  private check(): void {
    if (this.down) throw unavailable('cache unavailable');
  }
  async get(k: string) { this.check(); return this.inner.get(k); }
  async set(k: string, v: string, ttl?: number) { this.check(); return this.inner.set(k, v, ttl); }
  async del(...k: string[]) { this.check(); return this.inner.del(...k); }
  async publish(c: string, m: string) { this.check(); return this.inner.publish(c, m); }
  async ping() { this.check(); }
  async close() { await this.inner.close(); }
  async subscribe(channel: string, onMessage: (m: string) => void, onGap?: () => void) {
    this.check();
    this.subs.push({ channel, onMessage });
    await this.inner.subscribe(channel, onMessage);
    if (onGap) this.gaps.add(onGap);
    return async () => undefined;
  }
  stop(): void {
    this.down = true;
    for (const g of this.gaps) g();
  }
  /** Back, with nothing in it (subscriptions restored, as ioredis re-subscribes). */
  async restartEmpty(): Promise<void> {
    this.inner = new MemoryCache({ clock: this.clock });
    for (const s of this.subs) await this.inner.subscribe(s.channel, s.onMessage);
    this.down = false;
  }
}

/** Two replicas of token-service sharing one database (store) and one cache. */
function twoReplicas() {
  const one = apiTokenReplica();
  const two = apiTokenReplica({ store: one.store, cache: one.cache, clock: one.clock, pepper: one.pepper });
  return { one, two: { ...two, identity: one.identity, mint: one.mint } };
}

describe('ApiTokenVerifier', () => {
  test('repeated verifications read the database once and write nothing to it', async () => {
    const r = apiTokenReplica();
    const t = await r.mint();
    const find = jest.spyOn(r.store, 'findByHash');
    const touch = jest.spyOn(r.store, 'touchLastUsed');
    for (let i = 0; i < 100; i++) expect((await r.verifier.verify(t.plaintext)).id).toBe(t.token.id);
    expect(find).toHaveBeenCalledTimes(1);
    expect(touch).not.toHaveBeenCalled();
  });

  test('another replica finds the verification in the shared cache, not the database', async () => {
    const { one, two } = twoReplicas();
    const t = await one.mint();
    await one.verifier.verify(t.plaintext);
    const find = jest.spyOn(one.store, 'findByHash');
    await two.verifier.verify(t.plaintext);
    expect(find).not.toHaveBeenCalled();
  });

  test('the in-process copy expires after 10 s and the shared one after 60 s; then the database is asked again', async () => {
    const r = apiTokenReplica();
    const t = await r.mint();
    const find = jest.spyOn(r.store, 'findByHash');
    const shared = jest.spyOn(r.cache, 'get');
    await r.verifier.verify(t.plaintext);
    expect(find).toHaveBeenCalledTimes(1);
    r.clock.advance(10_000);
    shared.mockClear();
    await r.verifier.verify(t.plaintext);
    expect(find).toHaveBeenCalledTimes(1);
    expect(shared.mock.calls.map(([k]) => k.split(':')[1])).toEqual(['state', 'record']);
    r.clock.advance(60_000);
    await r.verifier.verify(t.plaintext);
    expect(find).toHaveBeenCalledTimes(2);
  });

  test('a malformed or mistyped token is refused before any cache or database lookup', async () => {
    const r = apiTokenReplica();
    const t = await r.mint();
    const find = jest.spyOn(r.store, 'findByHash');
    const get = jest.spyOn(r.cache, 'get');
    const typo = t.plaintext.slice(0, 12) + (t.plaintext[12] === 'a' ? 'b' : 'a') + t.plaintext.slice(13);
    for (const bad of ['', 'Bearer x', typo, t.plaintext + 'x', t.plaintext.replace('psk_live_', 'psk_dev_')]) {
      await expect(r.verifier.verify(bad)).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
    }
    expect(find).not.toHaveBeenCalled();
    expect(get).not.toHaveBeenCalled();
  });

  test('unknown, expired, revoked and rotated-out tokens all get the same error', async () => {
    const r = apiTokenReplica();
    const body = `psk_live_${'Z'.repeat(22)}`;
    const unknown = body + apiTokenChecksum(body);
    const expiring = await r.mint(60);
    await r.verifier.verify(expiring.plaintext); // cached: expiry must still be checked
    const revoked = await r.mint();
    await r.manager.delete({ ...r.identity, id: revoked.token.id });
    const rotated = await r.mint();
    await r.manager.rotate({ ...r.identity, id: rotated.token.id, overlapSeconds: 30 });
    r.clock.advance(60_000);
    for (const p of [unknown, expiring.plaintext, revoked.plaintext, rotated.plaintext]) {
      const err = await failure(r.verifier.verify(p));
      expect(err).toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
    }
  });

  test('a deletion on one replica is refused by another at once, and the other drops its in-process copy', async () => {
    const { one, two } = twoReplicas();
    await two.verifier.start();
    const t = await one.mint();
    await two.verifier.verify(t.plaintext);
    expect(two.verifier.localSize).toBe(1);
    await one.manager.delete({ ...one.identity, id: t.token.id });
    await expect(two.verifier.verify(t.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
    await until(() => two.verifier.localSize === 0);
    await two.verifier.close();
  });

  test('a rotation deadline set on one replica is applied by another, against the clock, on every verification', async () => {
    const { one, two } = twoReplicas();
    const t = await one.mint();
    await two.verifier.verify(t.plaintext);
    const rot = await one.manager.rotate({ ...one.identity, id: t.token.id, overlapSeconds: 120 });
    expect((await two.verifier.verify(t.plaintext)).rotationDeadline).toEqual(rot.rotationDeadline);
    one.clock.advance(120_000);
    await expect(two.verifier.verify(t.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
  });

  test('with the cache unreachable every verification asks the database: valid tokens pass, revoked ones do not', async () => {
    const r = apiTokenReplica();
    const valid = await r.mint();
    const revoked = await r.mint();
    await r.verifier.verify(valid.plaintext);
    await r.verifier.verify(revoked.plaintext); // both cached before the outage
    await r.manager.delete({ ...r.identity, id: revoked.token.id });
    await r.cache.close(); // every cache call is now Unavailable
    const find = jest.spyOn(r.store, 'findByHash');
    await expect(r.verifier.verify(revoked.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
    expect((await r.verifier.verify(valid.plaintext)).id).toBe(valid.token.id);
    expect((await r.verifier.verify(valid.plaintext)).id).toBe(valid.token.id);
    expect(find).toHaveBeenCalledTimes(3);
  });

  test.each([
    ['verifies during the outage (finds the cache unreachable)', true],
    ['sees no traffic during the outage (only its subscription drops)', false],
  ])('a token cut off while the cache is down stays refused after it comes back empty, on a replica that %s', async (_what, busy) => {
    const clock = new FakeClock('2026-01-01T00:00:00Z');
    const cache = new OutageCache(clock);
    const one = apiTokenReplica({ cache, clock });
    const two = apiTokenReplica({ store: one.store, cache, clock, pepper: one.pepper });
    await two.verifier.start();
    const a = await one.mint();
    const revoked = await one.mint();
    await two.verifier.verify(a.plaintext);
    await two.verifier.verify(revoked.plaintext);
    expect(two.verifier.localSize).toBe(2); // both cached in two's process before the outage

    cache.stop();
    const b = await one.manager.rotate({ ...one.identity, id: a.token.id, overlapSeconds: 0 });
    await one.manager.rotate({ ...one.identity, id: b.token.id, overlapSeconds: 0 }); // cuts `a` off now, in PostgreSQL only
    expect(await failure(one.manager.delete({ ...one.identity, id: revoked.token.id }))).toMatchObject({ code: 'Unavailable' });
    clock.advance(1000);
    if (busy) {
      await expect(two.verifier.verify(a.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
      await expect(two.verifier.verify(revoked.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
    }
    expect(two.verifier.localSize).toBe(0);

    await cache.restartEmpty();
    await expect(two.verifier.verify(a.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
    await expect(two.verifier.verify(revoked.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
    await two.verifier.close();
  });

  test('the database being down is Unavailable, not a refusal', async () => {
    const r = apiTokenReplica();
    const t = await r.mint();
    jest.spyOn(r.store, 'findByHash').mockRejectedValue(unavailable('database unavailable'));
    await expect(r.verifier.verify(t.plaintext)).rejects.toMatchObject({ code: 'Unavailable' });
  });

  test('last use is kept in memory and written in one batch per flush', async () => {
    const r = apiTokenReplica();
    const a = await r.mint();
    const b = await r.mint();
    const touch = jest.spyOn(r.store, 'touchLastUsed');
    await r.verifier.verify(a.plaintext);
    r.clock.advance(5_000);
    await r.verifier.verify(a.plaintext);
    await r.verifier.verify(b.plaintext);
    expect((await r.store.findById(a.token.id))?.lastUsedAt).toBeNull();
    await r.lastUse.flush();
    expect(touch).toHaveBeenCalledTimes(1);
    expect((await r.store.findById(a.token.id))?.lastUsedAt).toEqual(r.clock.now());
    expect((await r.store.findById(b.token.id))?.lastUsedAt).toEqual(r.clock.now());
    await r.lastUse.flush();
    expect(touch).toHaveBeenCalledTimes(1); // nothing new, no write
  });

  test('the in-process cache is bounded', async () => {
    const base = apiTokenReplica();
    const verifier = new ApiTokenVerifier({
      store: base.store,
      cache: new ApiTokenCache(base.cache),
      clock: base.clock,
      pepper: base.pepper,
      logger: nullLogger,
      lastUse: new LastUseRecorder({ store: base.store, logger: nullLogger }),
      localMaxEntries: 2,
    });
    for (let i = 0; i < 3; i++) await verifier.verify((await base.mint()).plaintext);
    expect(verifier.localSize).toBe(2);
  });
});

describe('LastUseRecorder', () => {
  test('a failed flush keeps the uses for the next one, with the latest time per token', async () => {
    const r = apiTokenReplica();
    const t = await r.mint();
    const touch = jest.spyOn(r.store, 'touchLastUsed').mockRejectedValueOnce(new Error('db down'));
    const rec = new LastUseRecorder({ store: r.store, logger: nullLogger });
    rec.record(t.token.id, new Date('2026-01-01T00:00:05Z'));
    await rec.flush();
    expect(rec.size).toBe(1);
    rec.record(t.token.id, new Date('2026-01-01T00:00:03Z'));
    await rec.close();
    expect(touch).toHaveBeenLastCalledWith([{ id: t.token.id, at: new Date('2026-01-01T00:00:05Z') }]);
    expect((await r.store.findById(t.token.id))?.lastUsedAt).toEqual(new Date('2026-01-01T00:00:05Z'));
  });
});

describe('ApiTokenVerifier: a rotation the shared cache never heard of (a replica cut off from Redis, issue 14)', () => {
  test('the old token is refused everywhere once the shared TTL has passed since the last database read, in-process copies included', async () => {
    const { one, two } = twoReplicas();
    // The rotating replica cannot reach the cache: its rotation lands in the database only.
    const cutOff = new OutageCache(one.clock);
    cutOff.down = true;
    const three = apiTokenReplica({ store: one.store, cache: cutOff, clock: one.clock, pepper: one.pepper });
    const t = await one.mint();
    await one.verifier.verify(t.plaintext); // read from the database at t0, shared for 60 s
    one.clock.advance(55_000);
    await two.verifier.verify(t.plaintext); // from the shared record: a copy in two's process
    const rotated = await three.manager.rotate({ ...one.identity, id: t.token.id, overlapSeconds: 1 });
    expect(rotated.rotationDeadline.getTime()).toBe(one.clock.now().getTime() + 1000);
    one.clock.advance(2_000);
    // Past its deadline, but within the stated bound (60 s from the database read): the copies may still answer.
    await expect(two.verifier.verify(t.plaintext)).resolves.toMatchObject({ id: t.token.id });
    one.clock.advance(3_001); // t0 + 60 s: the shared record and every copy of it are gone
    await expect(two.verifier.verify(t.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
    await expect(one.verifier.verify(t.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
  });

  test('a shared record past its time by this replica’s clock is not trusted (Redis’s clock may run behind)', async () => {
    const { one, two } = twoReplicas();
    const t = await one.mint();
    await one.verifier.verify(t.plaintext);
    const recordKey = `api-token:record:${keyedHash(one.pepper, t.plaintext).toString('hex')}`;
    const record = JSON.parse((await one.cache.get(recordKey)) ?? '{}') as { sharedUntil?: number };
    expect(record.sharedUntil).toBe(one.clock.now().getTime() + 60_000);
    await one.store.revokeChain({ ...one.identity, id: t.token.id, at: one.clock.now() }); // in the database only
    // Kept by Redis past the time its writer gave it: two must ask the database.
    await one.cache.set(recordKey, JSON.stringify({ ...record, sharedUntil: one.clock.now().getTime() - 1 }), 60_000);
    await expect(two.verifier.verify(t.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
  });
});
