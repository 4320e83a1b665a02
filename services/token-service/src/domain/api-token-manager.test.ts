import { randomUUID } from 'node:crypto';
import { isMeziteError, keyedHash, unavailable, parseApiToken } from '@mezite/identity';
import { apiTokenTtlMs, DEFAULT_API_TOKEN_TTL_MS, MAX_API_TOKEN_TTL_MS, rotationOverlapMs } from './api-token';
import { apiTokenReplica, failure } from './api-token-harness';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('API token policies', () => {
  test.each([
    [0, DEFAULT_API_TOKEN_TTL_MS],
    [1, 1000],
    [86_400, DAY],
    [MAX_API_TOKEN_TTL_MS / 1000, MAX_API_TOKEN_TTL_MS],
  ])('a TTL of %p s is %p ms', (s, ms) => expect(apiTokenTtlMs(s)).toBe(ms));

  test.each([-1, 0.5, MAX_API_TOKEN_TTL_MS / 1000 + 1])('a TTL of %p s is InvalidArgument', (s) => {
    expect(() => apiTokenTtlMs(s)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });

  test.each([
    [0, 48 * HOUR],
    [-5, 48 * HOUR],
    [60, 60_000],
    [7 * 86_400, 7 * DAY],
  ])('an overlap of %p s is %p ms (default 48 h)', (s, ms) => expect(rotationOverlapMs(s, 48 * HOUR)).toBe(ms));
});

describe('ApiTokenManager', () => {
  test('mint returns a well-formed plaintext once and stores only its keyed hash', async () => {
    const r = apiTokenReplica();
    const { plaintext, token } = await r.manager.mint({ ...r.identity, identityKind: 'user', env: 'dev', ttlSeconds: 3600 });
    expect(parseApiToken(plaintext)).toMatchObject({ env: 'dev' });
    expect(token).toMatchObject({ ...r.identity, identityKind: 'user', env: 'dev', createdAt: r.clock.now(), expiresAt: new Date(r.clock.now().getTime() + HOUR) });
    expect(token).not.toHaveProperty('tokenHash');
    const stored = await r.store.findById(token.id);
    expect(stored?.tokenHash).toEqual(keyedHash(r.pepper, plaintext));
    expect(JSON.stringify(stored)).not.toContain(plaintext);
  });

  test.each([
    ['tenant_id', { tenantId: 'x' }],
    ['identity_id', { identityId: 'x' }],
    ['identity_kind', { identityKind: 'robot' }],
    ['env_prefix', { env: 'prod' }],
    ['ttl_seconds', { ttlSeconds: -1 }],
  ])('mint with a bad %s is InvalidArgument', async (_field, over) => {
    const r = apiTokenReplica();
    const err = await failure(r.manager.mint({ ...r.identity, identityKind: 'service', env: 'live', ttlSeconds: 0, ...over }));
    expect(isMeziteError(err, 'InvalidArgument')).toBe(true);
  });

  test('list shows the identity’s working tokens, newest first', async () => {
    const r = apiTokenReplica();
    const a = await r.mint();
    r.clock.advance(1000);
    const b = await r.mint();
    r.clock.advance(1000);
    const c = await r.mint();
    await r.manager.delete({ ...r.identity, id: b.token.id });
    expect((await r.manager.list(r.identity.tenantId, r.identity.identityId)).map((t) => t.id)).toEqual([c.token.id, a.token.id]);
  });

  test('rotate: both plaintexts work until the deadline (48 h by default), then only the new one', async () => {
    const r = apiTokenReplica({ rotationOverlapMs: 48 * HOUR });
    const old = await r.mint(30 * 86_400);
    await r.verifier.verify(old.plaintext); // now cached
    r.clock.advance(DAY);
    const rot = await r.manager.rotate({ ...r.identity, id: old.token.id, overlapSeconds: 0 });
    expect(rot.rotationDeadline).toEqual(new Date(r.clock.now().getTime() + 48 * HOUR));
    // The successor expires when the token it replaces does: rotation renews the plaintext, not the lifetime.
    expect(rot.token.expiresAt).toEqual(old.token.expiresAt);
    expect(rot.plaintext).not.toBe(old.plaintext);
    expect(await r.verifier.verify(old.plaintext)).toMatchObject({ id: old.token.id, rotationDeadline: rot.rotationDeadline });
    expect(await r.verifier.verify(rot.plaintext)).toMatchObject({ id: rot.token.id });
    r.clock.advance(48 * HOUR - 1);
    await r.verifier.verify(old.plaintext);
    r.clock.advance(1);
    await expect(r.verifier.verify(old.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
    await r.verifier.verify(rot.plaintext);
  });

  test('overlap_seconds overrides the configured overlap; the deadline never passes the old token’s expiry', async () => {
    const r = apiTokenReplica();
    const a = await r.mint();
    const ra = await r.manager.rotate({ ...r.identity, id: a.token.id, overlapSeconds: 60 });
    expect(ra.rotationDeadline).toEqual(new Date(r.clock.now().getTime() + 60_000));
    const short = await r.mint(600);
    const rs = await r.manager.rotate({ ...r.identity, id: short.token.id, overlapSeconds: 0 });
    expect(rs.rotationDeadline).toEqual(short.token.expiresAt);
  });

  test('rotating B, which replaced A still in its overlap, cuts A off at once: never three generations', async () => {
    const r = apiTokenReplica();
    const a = await r.mint();
    await r.verifier.verify(a.plaintext); // cached in process and in the shared cache
    const b = await r.manager.rotate({ ...r.identity, id: a.token.id, overlapSeconds: 0 });
    r.clock.advance(HOUR); // A is well inside its 48 h overlap
    await r.verifier.verify(a.plaintext);
    const c = await r.manager.rotate({ ...r.identity, id: b.token.id, overlapSeconds: 0 });
    await expect(r.verifier.verify(a.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
    await r.verifier.verify(b.plaintext);
    await r.verifier.verify(c.plaintext);
    expect(await r.store.findById(a.token.id)).toMatchObject({ rotationDeadline: r.clock.now() });
    expect((await r.manager.list(r.identity.tenantId, r.identity.identityId)).map((t) => t.id)).toEqual([c.token.id, b.token.id]);
  });

  test('a token already rotated cannot be rotated again; of two concurrent rotations exactly one wins', async () => {
    const r = apiTokenReplica();
    const a = await r.mint();
    await r.manager.rotate({ ...r.identity, id: a.token.id, overlapSeconds: 0 });
    await expect(r.manager.rotate({ ...r.identity, id: a.token.id, overlapSeconds: 0 })).rejects.toMatchObject({ code: 'FailedPrecondition' });

    const t = await r.mint();
    const results = await Promise.allSettled([0, 1].map(() => r.manager.rotate({ ...r.identity, id: t.token.id, overlapSeconds: 0 })));
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((x) => x.status === 'rejected');
    expect(isMeziteError(lost?.reason, 'FailedPrecondition')).toBe(true);
  });

  test('revoked and expired tokens cannot be rotated; another identity’s token is NotFound', async () => {
    const r = apiTokenReplica();
    const revoked = await r.mint();
    await r.manager.delete({ ...r.identity, id: revoked.token.id });
    await expect(r.manager.rotate({ ...r.identity, id: revoked.token.id, overlapSeconds: 0 })).rejects.toMatchObject({ code: 'FailedPrecondition' });
    const expiring = await r.mint(60);
    r.clock.advance(60_000);
    await expect(r.manager.rotate({ ...r.identity, id: expiring.token.id, overlapSeconds: 0 })).rejects.toMatchObject({ code: 'FailedPrecondition' });
    const mine = await r.mint();
    await expect(r.manager.rotate({ ...r.identity, identityId: randomUUID(), id: mine.token.id, overlapSeconds: 0 })).rejects.toMatchObject({ code: 'NotFound' });
    await expect(r.manager.delete({ ...r.identity, tenantId: randomUUID(), id: mine.token.id })).rejects.toMatchObject({ code: 'NotFound' });
    await expect(r.manager.delete({ ...r.identity, id: randomUUID() })).rejects.toMatchObject({ code: 'NotFound' });
    await r.verifier.verify(mine.plaintext); // untouched by the refused calls
  });

  test('delete refuses the token at once even where it was cached, and deleting again is harmless', async () => {
    const r = apiTokenReplica();
    const t = await r.mint();
    await r.verifier.verify(t.plaintext);
    await r.manager.delete({ ...r.identity, id: t.token.id });
    await expect(r.verifier.verify(t.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
    await r.manager.delete({ ...r.identity, id: t.token.id });
    expect(await r.manager.list(r.identity.tenantId, r.identity.identityId)).toEqual([]);
  });

  test('a successor never outlives its predecessor: a token rotated every day dies at its first expiry (issue 14)', async () => {
    const r = apiTokenReplica();
    const first = await r.mint(30 * 86_400);
    let current = first;
    for (let day = 1; day < 30; day++) {
      r.clock.advance(DAY);
      const next = await r.manager.rotate({ ...r.identity, id: current.token.id, overlapSeconds: 0 });
      expect(next.token.expiresAt).toEqual(first.token.expiresAt);
      expect(next.rotationDeadline.getTime()).toBeLessThanOrEqual(first.token.expiresAt.getTime());
      current = next;
    }
    r.clock.advance(DAY); // day 30: the first token's expiry
    await expect(r.verifier.verify(current.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
    await expect(r.manager.rotate({ ...r.identity, id: current.token.id, overlapSeconds: 0 })).rejects.toMatchObject({ code: 'FailedPrecondition', message: 'api token has expired' });
    expect(await r.manager.list(r.identity.tenantId, r.identity.identityId)).toEqual([]);
  });

  test('the seed’s order: rotate, then delete the old token while it is in its overlap; the successor it was rotated into dies with it', async () => {
    const r = apiTokenReplica();
    const old = await r.mint();
    const next = await r.manager.rotate({ ...r.identity, id: old.token.id, overlapSeconds: 0 });
    expect(await r.manager.delete({ ...r.identity, id: old.token.id })).toEqual([old.token.id, next.token.id]);
    await expect(r.verifier.verify(old.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
    await expect(r.verifier.verify(next.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
  });

  test('deleting a token revokes its whole chain of successors on every replica at once, not its predecessor nor its siblings', async () => {
    const one = apiTokenReplica();
    const two = apiTokenReplica({ store: one.store, cache: one.cache, clock: one.clock, pepper: one.pepper });
    const who = one.identity;
    const sibling = await one.mint();
    const a = await one.mint();
    const b = await one.manager.rotate({ ...who, id: a.token.id, overlapSeconds: 0 });
    const c = await one.manager.rotate({ ...who, id: b.token.id, overlapSeconds: 0 }); // cuts a off; b is in its overlap
    for (const t of [b, c, sibling]) await two.verifier.verify(t.plaintext); // cached on the other replica
    expect(await one.manager.delete({ ...who, id: b.token.id })).toEqual([b.token.id, c.token.id]);
    for (const t of [b, c]) {
      await expect(two.verifier.verify(t.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
      await expect(one.verifier.verify(t.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
    }
    await two.verifier.verify(sibling.plaintext);
    expect((await one.store.findById(a.token.id))?.revokedAt).toBeNull(); // cut off by c's rotation already, not revoked
    expect((await one.manager.list(who.tenantId, who.identityId)).map((t) => t.id)).toEqual([sibling.token.id]);
  });

  test('delete while the cache is down is Unavailable, yet the database has revoked the token; a retry completes it', async () => {
    const r = apiTokenReplica();
    const t = await r.mint();
    const set = jest.spyOn(r.cache, 'set').mockRejectedValueOnce(unavailable('cache unavailable'));
    const err = await failure(r.manager.delete({ ...r.identity, id: t.token.id }));
    expect(isMeziteError(err, 'Unavailable')).toBe(true);
    expect((await r.store.findById(t.token.id))?.revokedAt).toEqual(r.clock.now());
    set.mockRestore();
    await r.manager.delete({ ...r.identity, id: t.token.id });
    await expect(r.verifier.verify(t.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
  });

  test('a successor the cache could not be told about is Unavailable too; the retry reaches it', async () => {
    const r = apiTokenReplica();
    const a = await r.mint();
    const b = await r.manager.rotate({ ...r.identity, id: a.token.id, overlapSeconds: 0 });
    await r.verifier.verify(b.plaintext); // cached
    const set = jest.spyOn(r.cache, 'set').mockResolvedValueOnce(undefined).mockRejectedValueOnce(unavailable('cache unavailable'));
    expect(await failure(r.manager.delete({ ...r.identity, id: a.token.id }))).toMatchObject({ code: 'Unavailable' });
    expect((await r.store.findById(b.token.id))?.revokedAt).toEqual(r.clock.now());
    set.mockRestore();
    expect(await r.manager.delete({ ...r.identity, id: a.token.id })).toEqual([a.token.id, b.token.id]);
    await expect(r.verifier.verify(b.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
  });
});
