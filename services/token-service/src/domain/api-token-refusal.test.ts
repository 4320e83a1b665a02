import { generateApiToken } from '@mezite/identity';
import { MemoryCache } from '@mezite/platform';
import { apiTokenReplica, failure } from './api-token-harness';
import { apiTokenRefusalOf, whyNotLive } from './api-token-refusal';
import { isApiTokenLive } from './api-token';

/** What a refused verification looks like to a caller, and the reason only the auth-server reads. */
async function refusal(p: Promise<unknown>) {
  const err = await failure(p);
  const r = apiTokenRefusalOf(err);
  return { answer: `${(err as { code?: string }).code}: ${(err as Error).message}`, reason: r?.reason, tokenId: r?.token?.id };
}

describe('ApiTokenVerifier: why a token was refused', () => {
  const ANSWER = 'Unauthenticated: invalid api token';

  test('malformed, unknown, expired, rotated out and revoked: one answer, each its reason (the token id once it was found)', async () => {
    const r = apiTokenReplica({ rotationOverlapMs: 1000 });
    const expiring = await r.mint(60);
    const rotated = await r.mint();
    await r.verifier.verify(rotated.plaintext); // cached before the rotation: the deadline comes from the shared cache
    await r.manager.rotate({ ...r.identity, id: rotated.token.id, overlapSeconds: 1 });
    const deleted = await r.mint();
    await r.verifier.verify(deleted.plaintext);
    await r.manager.delete({ ...r.identity, id: deleted.token.id });
    r.clock.advance(61_000);
    const live = await r.mint();
    const typo = live.plaintext.slice(0, 12) + (live.plaintext[12] === 'a' ? 'b' : 'a') + live.plaintext.slice(13);

    expect({
      malformed: await refusal(r.verifier.verify(typo)),
      unknown: await refusal(r.verifier.verify(generateApiToken('live'))),
      expired: await refusal(r.verifier.verify(expiring.plaintext)),
      'rotated out': await refusal(r.verifier.verify(rotated.plaintext)),
      revoked: await refusal(r.verifier.verify(deleted.plaintext)),
    }).toEqual({
      malformed: { answer: ANSWER, reason: 'malformed', tokenId: undefined },
      unknown: { answer: ANSWER, reason: 'unknown', tokenId: undefined },
      expired: { answer: ANSWER, reason: 'expired', tokenId: expiring.token.id },
      'rotated out': { answer: ANSWER, reason: 'rotated out', tokenId: rotated.token.id },
      // Known revoked from the shared cache's mark: the hash, not the record, so no id.
      revoked: { answer: ANSWER, reason: 'revoked', tokenId: undefined },
    });
    expect((await r.verifier.verify(live.plaintext)).id).toBe(live.token.id);
  });

  test('the database path gives the same reasons (revoked, rotated out), with the token id', async () => {
    const r = apiTokenReplica({ rotationOverlapMs: 1000 });
    const deleted = await r.mint();
    await r.manager.delete({ ...r.identity, id: deleted.token.id });
    const rotated = await r.mint();
    await r.manager.rotate({ ...r.identity, id: rotated.token.id, overlapSeconds: 1 });
    r.clock.advance(2000);
    // Another replica on the same database with an empty cache of its own.
    const other = apiTokenReplica({ store: r.store, cache: new MemoryCache({ clock: r.clock }), clock: r.clock, pepper: r.pepper });
    expect(await refusal(other.verifier.verify(deleted.plaintext))).toEqual({ answer: ANSWER, reason: 'revoked', tokenId: deleted.token.id });
    expect(await refusal(other.verifier.verify(rotated.plaintext))).toEqual({ answer: ANSWER, reason: 'rotated out', tokenId: rotated.token.id });
  });

  test.each([
    ['live', { revokedAt: null, expiresAt: 2000, rotationDeadline: null }, undefined, undefined],
    ['revoked wins over expired', { revokedAt: 0, expiresAt: 0, rotationDeadline: null }, undefined, 'revoked'],
    ['expired', { revokedAt: null, expiresAt: 1000, rotationDeadline: null }, undefined, 'expired'],
    ['past its own deadline', { revokedAt: null, expiresAt: 2000, rotationDeadline: 500 }, undefined, 'rotated out'],
    ['past a deadline from the cache', { revokedAt: null, expiresAt: 2000, rotationDeadline: null }, 1000, 'rotated out'],
  ] as const)('whyNotLive: %s, and it agrees with isApiTokenLive', (_what, t, extra, want) => {
    const now = new Date(1000);
    const token = { revokedAt: t.revokedAt === null ? null : new Date(t.revokedAt), expiresAt: new Date(t.expiresAt), rotationDeadline: t.rotationDeadline === null ? null : new Date(t.rotationDeadline) };
    const deadline = extra === undefined ? undefined : new Date(extra);
    expect(whyNotLive(token, now, deadline)).toBe(want);
    expect(isApiTokenLive(token, now, deadline)).toBe(want === undefined);
  });
});
