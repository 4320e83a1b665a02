import { randomBytes, randomUUID } from 'node:crypto';
import { FakeClock, isMeziteError } from '@mezite/identity';
import * as fc from 'fast-check';
import { MemoryJoinTokenStore } from '../store/memory-join-token-store';
import { JOIN_TOKEN_PATTERN } from './join-token';
import { JoinTokenManager } from './join-token-manager';

/**
 * Every presented join token other than a live one gets the one error `invalid join
 * token`, whatever its shape — near misses of a real token included — and a refused
 * attempt changes nothing: the real token still claims afterwards.
 */
describe('JoinTokenManager.claim on hostile input', () => {
  const HEX = '0123456789abcdef';

  test('any string but the live token is Unauthenticated "invalid join token", and leaves the live token claimable', async () => {
    const manager = new JoinTokenManager({ store: new MemoryJoinTokenStore(), clock: new FakeClock('2026-01-01T00:00:00Z'), pepper: randomBytes(32) });
    const real = await manager.create({ tenantId: randomUUID(), subjectId: randomUUID(), subjectKind: 'bot', ttlMs: 3600_000 });
    const t = real.plaintext;
    const nearMiss = fc.tuple(fc.nat(), fc.constantFrom(...HEX, ...'ABCDEF', '-', ' ', '\0', 'а', '０'), fc.constantFrom('substitute', 'insert', 'delete', 'upper', 'node')).map(([at, c, op]) => {
      const i = at % t.length;
      if (op === 'substitute') return t.slice(0, i) + c + t.slice(i + 1);
      if (op === 'insert') return t.slice(0, i) + c + t.slice(i);
      if (op === 'delete') return t.slice(0, i) + t.slice(i + 1);
      if (op === 'upper') return t.toUpperCase();
      return t.replace('tok-bot-', 'tok-node-');
    });
    const shaped = fc.tuple(fc.constantFrom('bot', 'node'), fc.string({ unit: fc.constantFrom(...HEX), minLength: 32, maxLength: 32 })).map(([k, h]) => `tok-${k}-${h}`);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }), shaped, nearMiss), async (s) => {
        fc.pre(s !== t);
        const err = await manager.claim({ plaintext: s, claimTtlSeconds: 0 }).then(
          () => new Error(`claimed ${JSON.stringify(s)}`),
          (e: unknown) => e,
        );
        expect(isMeziteError(err, 'Unauthenticated') && (err as Error).message).toBe('invalid join token');
      }),
      { numRuns: 1000 },
    );
    expect(JOIN_TOKEN_PATTERN.test(t)).toBe(true);
    await expect(manager.claim({ plaintext: t, claimTtlSeconds: 0 })).resolves.toMatchObject({ tokenId: real.id });
  });
});
