import { randomBytes, randomUUID } from 'node:crypto';
import { FakeClock, isMeziteError } from '@mezite/identity';
import { MemoryJoinTokenStore } from '../store/memory-join-token-store';
import { claimTtlMs, DEFAULT_CLAIM_TTL_MS, MAX_CLAIM_TTL_MS } from './join-token';
import { JoinTokenManager } from './join-token-manager';

const pepper = randomBytes(32);

function setup() {
  const clock = new FakeClock('2026-01-01T00:00:00Z');
  const store = new MemoryJoinTokenStore();
  const claimSpy = jest.spyOn(store, 'claim');
  const manager = new JoinTokenManager({ store, clock, pepper });
  const mint = async (ttlMs = 3600_000) => {
    const subject = { tenantId: randomUUID(), subjectId: randomUUID() };
    return { ...subject, ...(await manager.create({ ...subject, subjectKind: 'bot', ttlMs })) };
  };
  return { clock, store, claimSpy, manager, mint };
}

/** The error a promise rejects with. */
const failure = (p: Promise<unknown>) => p.then(() => new Error('expected a rejection'), (e: unknown) => e);

describe('claimTtlMs', () => {
  test.each([
    [0, DEFAULT_CLAIM_TTL_MS],
    [1, 1000],
    [60, 60_000],
    [300, MAX_CLAIM_TTL_MS],
    [301, MAX_CLAIM_TTL_MS],
    [86_400, MAX_CLAIM_TTL_MS],
  ])('%p seconds → %p ms', (seconds, ms) => {
    expect(claimTtlMs(seconds)).toBe(ms);
  });

  test.each([-1, 1.5, Number.NaN])('%p seconds is InvalidArgument', (seconds) => {
    expect(() => claimTtlMs(seconds)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});

describe('JoinTokenManager redemption', () => {
  test('claim names the subject; confirm redeems; the token cannot be claimed again', async () => {
    const { manager, mint } = setup();
    const t = await mint();
    const c = await manager.claim({ plaintext: t.plaintext, claimTtlSeconds: 0 });
    expect(c).toMatchObject({ tokenId: t.id, tenantId: t.tenantId, subjectKind: 'bot', subjectId: t.subjectId });
    expect(c.claimedUntil).toEqual(new Date('2026-01-01T00:01:00Z'));
    await manager.confirm(c.claimId);
    const again = await failure(manager.claim({ plaintext: t.plaintext, claimTtlSeconds: 0 }));
    expect(again).toMatchObject({ code: 'Unauthenticated', message: 'invalid join token' });
  });

  test('unknown, malformed, expired, used, revoked and claimed tokens all get the same error', async () => {
    const { manager, mint, clock, claimSpy } = setup();
    const claimed = await mint();
    await manager.claim({ plaintext: claimed.plaintext, claimTtlSeconds: 0 });
    const used = await mint();
    await manager.confirm((await manager.claim({ plaintext: used.plaintext, claimTtlSeconds: 0 })).claimId);
    const revoked = await mint();
    await manager.revokeForSubject(revoked.tenantId, revoked.subjectId);
    const expiring = await mint(10_000);
    clock.advance(10_000);

    const errors = [];
    for (const plaintext of [`tok-bot-${'0'.repeat(32)}`, claimed.plaintext, used.plaintext, revoked.plaintext, expiring.plaintext]) {
      errors.push(await failure(manager.claim({ plaintext, claimTtlSeconds: 0 })));
    }
    claimSpy.mockClear();
    for (const plaintext of ['', 'tok-bot-XYZ', `tok-user-${'a'.repeat(32)}`, `tok-bot-${'A'.repeat(32)}`, ` ${claimed.plaintext}`, `${claimed.plaintext}0`]) {
      errors.push(await failure(manager.claim({ plaintext, claimTtlSeconds: 0 })));
    }
    expect(claimSpy).not.toHaveBeenCalled(); // malformed tokens never reach the store
    for (const e of errors) {
      expect(isMeziteError(e, 'Unauthenticated')).toBe(true);
      expect((e as Error).message).toBe('invalid join token');
    }
  });

  test('after the claim TTL passes another attempt wins; the first one can no longer confirm', async () => {
    const { manager, mint, clock } = setup();
    const t = await mint();
    const first = await manager.claim({ plaintext: t.plaintext, claimTtlSeconds: 30 });
    clock.advance(29_000);
    await expect(manager.claim({ plaintext: t.plaintext, claimTtlSeconds: 30 })).rejects.toMatchObject({ code: 'Unauthenticated' });
    clock.advance(2_000);
    const second = await manager.claim({ plaintext: t.plaintext, claimTtlSeconds: 30 });
    await expect(manager.confirm(first.claimId)).rejects.toMatchObject({ code: 'FailedPrecondition' });
    expect(await manager.release(first.claimId)).toBe(false);
    await manager.confirm(second.claimId);
  });

  test('release gives the token back for another attempt; releasing twice is harmless', async () => {
    const { manager, mint } = setup();
    const t = await mint();
    const c = await manager.claim({ plaintext: t.plaintext, claimTtlSeconds: 0 });
    expect(await manager.release(c.claimId)).toBe(true);
    expect(await manager.release(c.claimId)).toBe(false);
    const again = await manager.claim({ plaintext: t.plaintext, claimTtlSeconds: 0 });
    expect(again.claimId).not.toBe(c.claimId);
  });

  test('a claim id that is not a UUID is InvalidArgument', async () => {
    const { manager } = setup();
    await expect(manager.confirm('nope')).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(manager.release('nope')).rejects.toMatchObject({ code: 'InvalidArgument' });
  });
});
