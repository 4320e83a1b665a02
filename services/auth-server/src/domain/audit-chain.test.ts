import { randomUUID } from 'node:crypto';
import { chainHash, GENESIS, verifyChain, type ChainedEvent } from './audit-chain';

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
