import { nullLogger } from '@mezite/platform';
import { MemoryApiTokenStore } from '../store/memory-api-token-store';
import { apiTokenReplica, failure } from './api-token-harness';
import { LastUseRecorder } from './last-use-recorder';

/** A memory store that counts its writes (and can be made to fail them). */
function countingStore() {
  const store = new MemoryApiTokenStore();
  const writes = { touch: 0, usage: 0, fail: false };
  const touch = store.touchLastUsed.bind(store);
  const add = store.addUsage.bind(store);
  store.touchLastUsed = async (u) => {
    writes.touch++;
    if (writes.fail) throw new Error('database down');
    return touch(u);
  };
  store.addUsage = async (u, max) => {
    writes.usage++;
    if (writes.fail) throw new Error('database down');
    return add(u, max);
  };
  return { store, writes };
}

describe('who uses an api token', () => {
  test('500 verifications from two presenters (cached or not) make one write of each kind per flush, and every use is counted', async () => {
    const { store, writes } = countingStore();
    const r = apiTokenReplica({ store });
    const t = await r.mint();
    for (let i = 0; i < 250; i++) {
      await r.verifier.verify(t.plaintext, { source: '127.0.0.1', client: 'deploy-bot/1.4' });
      await r.verifier.verify(t.plaintext, { source: '127.0.0.2', client: 'curl/8.5' }, 2);
    }
    expect(writes).toEqual({ touch: 0, usage: 0, fail: false });
    await r.lastUse.flush();
    expect(writes).toEqual({ touch: 1, usage: 1, fail: false });
    const usage = await r.manager.usage({ ...r.identity, id: t.token.id });
    expect(usage.usage.map((u) => [u.source, u.client, u.count])).toEqual([
      ['127.0.0.2', 'curl/8.5', 500],
      ['127.0.0.1', 'deploy-bot/1.4', 250],
    ]);
    expect(usage.token.lastUsedAt).toEqual(r.clock.now());
  });

  test('at most N presenters per token and hour are kept; the rest are counted as other; presenters are cut to printable text', async () => {
    const store = new MemoryApiTokenStore();
    const r = apiTokenReplica({ store });
    const rec = new LastUseRecorder({ store, logger: nullLogger, maxPresentersPerHour: 3 });
    const t = await r.mint();
    for (let i = 0; i < 10; i++) rec.record(t.token.id, r.clock.now(), { source: `10.0.0.${i}`, client: 'x\u0000\n\u001b[31m' + 'a'.repeat(500) });
    await rec.flush();
    const rows = await store.listUsage(t.token.id, new Date(0));
    expect(rows).toHaveLength(4);
    expect(rows.find((u) => u.source === 'other')?.count).toBe(7);
    for (const u of rows) expect(u.client).toMatch(/^[\x20-\x7e]{0,128}$/);
  });

  test('a failed flush fails no verification, is retried, and loses no use', async () => {
    const { store, writes } = countingStore();
    const r = apiTokenReplica({ store });
    const t = await r.mint();
    writes.fail = true;
    await r.verifier.verify(t.plaintext, { source: '127.0.0.1', client: 'a' });
    await r.lastUse.flush();
    await r.verifier.verify(t.plaintext, { source: '127.0.0.1', client: 'a' });
    writes.fail = false;
    await r.lastUse.flush();
    expect((await store.listUsage(t.token.id, new Date(0))).map((u) => u.count)).toEqual([2]);
  });

  test('list shows the old token\'s recent users during an overlap; finishing is refused while it is used, then forced; the old token is refused at once', async () => {
    const r = apiTokenReplica();
    const old = await r.mint();
    await r.verifier.verify(old.plaintext, { source: '127.0.0.1', client: 'mezctl/1' });
    const rotated = await r.manager.rotate({ ...r.identity, id: old.token.id, overlapSeconds: 0 });
    await r.verifier.verify(old.plaintext, { source: '10.2.0.7', client: 'deploy-bot/1.4' });
    await r.verifier.verify(old.plaintext, { source: '127.0.0.2', client: 'curl/8' });
    const listed = await r.manager.list(r.identity.tenantId, r.identity.identityId);
    const oldListed = listed.find((x) => x.id === old.token.id);
    expect(oldListed?.recentUsers?.map((u) => u.source).sort()).toEqual(['10.2.0.7', '127.0.0.1', '127.0.0.2']);
    expect(listed.find((x) => x.id === rotated.token.id)?.recentUsers).toBeUndefined();

    const refused = await failure(r.manager.finishRotation({ ...r.identity, id: old.token.id, force: false }));
    expect(refused).toMatchObject({ code: 'FailedPrecondition' });
    expect(String((refused as Error).message)).toMatch(/used 3 times .* --force/);
    await r.verifier.verify(old.plaintext);
    // Another identity's token is not admitted to exist.
    expect(await failure(r.manager.finishRotation({ tenantId: r.identity.tenantId, identityId: '00000000-0000-4000-8000-000000000000', id: old.token.id, force: true }))).toMatchObject({ code: 'NotFound' });
    await r.manager.finishRotation({ ...r.identity, id: old.token.id, force: true });
    expect(await failure(r.verifier.verify(old.plaintext))).toMatchObject({ code: 'Unauthenticated' });
    await r.verifier.verify(rotated.plaintext);
    expect(await failure(r.manager.finishRotation({ ...r.identity, id: old.token.id, force: true }))).toMatchObject({ code: 'FailedPrecondition' });
  });

  test('finishing without force is accepted once the old token has been quiet for the quiet period', async () => {
    const r = apiTokenReplica();
    const old = await r.mint();
    await r.manager.rotate({ ...r.identity, id: old.token.id, overlapSeconds: 0 });
    await r.verifier.verify(old.plaintext, { source: '127.0.0.1', client: 'a' });
    r.clock.advance(11 * 60_000);
    await r.manager.finishRotation({ ...r.identity, id: old.token.id, force: false });
    expect(await failure(r.verifier.verify(old.plaintext))).toMatchObject({ code: 'Unauthenticated' });
  });
});
