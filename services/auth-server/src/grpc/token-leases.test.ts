import type { ApiTokenInfo } from '../domain/api-token-client';
import { TokenLeases } from './token-leases';

const info = (o: Partial<ApiTokenInfo> = {}): ApiTokenInfo => ({
  id: 'id',
  tenantId: 't',
  identityKind: 'service',
  identityId: 's',
  env: 'live',
  createdAt: new Date(0),
  expiresAt: new Date(1_000_000),
  lastUsedAt: null,
  rotatedAt: null,
  rotationDeadline: null,
  ...o,
});

function clocks() {
  const c = { mono: 100, wall: 500_000 };
  const leases = new TokenLeases({ monotonicNow: () => c.mono, wallNow: () => c.wall, maxLeaseMs: 5000, maxEntries: 2 });
  return { c, leases };
}

test('a lease runs from when the verification was sent, for the time granted', () => {
  const { c, leases } = clocks();
  const sentAt = leases.now();
  c.mono += 300; // the answer took 300 ms
  leases.put('k', info(), sentAt, 1000);
  expect(leases.get('k')?.id).toBe('id');
  c.mono = sentAt + 999;
  expect(leases.get('k')).toBeDefined();
  c.mono = sentAt + 1000;
  expect(leases.get('k')).toBeUndefined();
  expect(leases.size).toBe(0);
});

test('nothing is kept without a lease, past the longest lease, or when the answer came after its lease', () => {
  const { c, leases } = clocks();
  leases.put('none', info(), c.mono, 0);
  expect(leases.get('none')).toBeUndefined();
  leases.put('long', info(), c.mono, 60_000);
  c.mono += 5000;
  expect(leases.get('long')).toBeUndefined(); // capped at maxLeaseMs
  const sentAt = c.mono;
  c.mono += 2000;
  leases.put('late', info(), sentAt, 1000);
  expect(leases.size).toBe(0);
});

test('a token past its expiry or rotation deadline is not used, lease or not', () => {
  const { c, leases } = clocks();
  leases.put('expiring', info({ expiresAt: new Date(c.wall + 10) }), c.mono, 1000);
  leases.put('rotated', info({ rotationDeadline: new Date(c.wall + 10) }), c.mono, 1000);
  expect(leases.get('expiring')).toBeDefined();
  expect(leases.get('rotated')).toBeDefined();
  c.wall += 10;
  expect(leases.get('expiring')).toBeUndefined();
  expect(leases.get('rotated')).toBeUndefined();
});

test('bounded: the oldest entry goes first; keys are hashes, not plaintexts', () => {
  const { c, leases } = clocks();
  for (const k of ['a', 'b', 'c']) leases.put(k, info({ id: k }), c.mono, 1000);
  expect(leases.size).toBe(2);
  expect(leases.get('a')).toBeUndefined();
  expect(leases.get('c')?.id).toBe('c');
  const key = leases.key('psk_live_secret');
  expect(key).not.toContain('psk_');
  expect(key).toBe(leases.key('psk_live_secret'));
});
