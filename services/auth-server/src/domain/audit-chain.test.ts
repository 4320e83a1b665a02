import { randomUUID } from 'node:crypto';
import { chainHash, GENESIS, keyedChainHash, verifyChain, type ChainedEvent } from './audit-chain';

function chain(n: number): { events: ChainedEvent[]; head: { seq: number; hash: Buffer } } {
  const events: ChainedEvent[] = [];
  let prev: Buffer = GENESIS;
  for (let seq = 1; seq <= n; seq++) {
    const base = { seq, id: randomUUID(), tenantId: null, time: new Date(1_700_000_000_000 + seq * 1000), type: 'bot.join', actor: 'bot:x', target: 'bot:x', result: 'success' as const, requestId: `r${seq}`, details: { b: '2', a: '1' } };
    const hash = chainHash(prev, base);
    events.push({ ...base, prevHash: prev, hash });
    prev = hash;
  }
  return { events, head: { seq: n, hash: prev } };
}

describe('audit hash chain', () => {
  test('an intact chain verifies', () => {
    const { events, head } = chain(5);
    expect(verifyChain(events, head)).toEqual({ ok: true, checked: 5, firstBadSeq: 0, problem: '' });
  });

  test.each<[string, (e: ChainedEvent[]) => ChainedEvent[], number, RegExp]>([
    ['an edited record', (e) => e.map((x) => (x.seq === 3 ? { ...x, actor: 'user:mallory' } : x)), 3, /record 3 was modified/],
    ['an edited detail', (e) => e.map((x) => (x.seq === 2 ? { ...x, details: { a: '1', b: '3' } } : x)), 2, /record 2 was modified/],
    ['a deleted record', (e) => e.filter((x) => x.seq !== 2), 2, /record 2 is missing/],
    ['a deleted and renumbered record', (e) => e.filter((x) => x.seq !== 2).map((x) => (x.seq > 2 ? { ...x, seq: x.seq - 1 } : x)), 2, /does not follow/],
    ['two records swapped', (e) => { const c = [...e]; const a = c[1] as ChainedEvent; const b = c[2] as ChainedEvent; c[1] = { ...b, seq: 2 }; c[2] = { ...a, seq: 3 }; return c; }, 2, /does not follow/],
    ['the newest record deleted', (e) => e.slice(0, -1), 5, /newest records were deleted/],
  ])('%s is detected', (_, tamper, seq, problem) => {
    const { events, head } = chain(5);
    const r = verifyChain(tamper(events), head);
    expect(r.ok).toBe(false);
    expect(r.firstBadSeq).toBe(seq);
    expect(r.problem).toMatch(problem);
  });
});

describe('keyed audit chain', () => {
  const key = { id: 'k1', secret: Buffer.alloc(32, 1) };
  const keying = { keys: new Map([[key.id, key.secret]]), keyedFrom: 3 };
  /** Records 1–2 unkeyed (before the switch point), 3–5 keyed; `relink` re-links from `from` on. */
  function mixed(from = 6, relink?: (prev: Buffer, e: Omit<ChainedEvent, 'prevHash' | 'hash'>) => { hash: Buffer; keyId: string | null }) {
    const events: ChainedEvent[] = [];
    let prev: Buffer = GENESIS;
    for (let seq = 1; seq <= 5; seq++) {
      const base = { seq, id: `id${seq}`, tenantId: null, time: new Date(1_700_000_000_000 + seq * 1000), type: 'bot.join', actor: seq === from ? 'user:mallory' : 'bot:x', target: 'bot:x', result: 'success' as const, requestId: `r${seq}`, details: {} };
      const link = seq >= from && relink ? relink(prev, base) : seq >= 3 ? { hash: keyedChainHash(key, prev, base), keyId: key.id } : { hash: chainHash(prev, base), keyId: null };
      events.push({ ...base, prevHash: prev, ...link });
      prev = link.hash;
    }
    return { events, head: { seq: 5, hash: prev } };
  }

  test('unkeyed records before the switch point and keyed ones after it verify', () => {
    const { events, head } = mixed();
    expect(verifyChain(events, head, keying)).toEqual({ ok: true, checked: 5, firstBadSeq: 0, problem: '' });
  });

  test.each<[string, number, (prev: Buffer, e: Omit<ChainedEvent, 'prevHash' | 'hash'>) => { hash: Buffer; keyId: string | null }, RegExp]>([
    ['re-linked with SHA-256 after the switch point', 4, (p, e) => ({ hash: chainHash(p, e), keyId: null }), /record 4 was modified \(its link is not keyed\)/],
    ['re-linked under a guessed key with the real key id', 4, (p, e) => ({ hash: keyedChainHash({ id: 'k1', secret: Buffer.alloc(32, 2) }, p, e), keyId: 'k1' }), /record 4 was modified/],
    ['re-linked under a key of its own', 3, (p, e) => ({ hash: keyedChainHash({ id: 'evil', secret: Buffer.alloc(32, 2) }, p, e), keyId: 'evil' }), /record 3 is keyed with unknown audit key "evil"/],
    ['an old record re-linked with SHA-256 (the keyed record after it no longer follows)', 2, (p, e) => ({ hash: chainHash(p, e), keyId: null }), /record 3 was modified/],
  ])('an edit %s is detected', (_, from, relink, problem) => {
    const { events, head } = mixed(from, relink);
    const r = verifyChain(events, head, keying);
    expect(r.ok).toBe(false);
    expect(r.problem).toMatch(problem);
  });
});
