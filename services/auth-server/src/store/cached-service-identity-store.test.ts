import { FakeClock } from '@mezite/identity';
import type { ServiceIdentity, ServiceIdentityStore } from '../domain/service-identity';
import { CachedServiceIdentityStore } from './cached-service-identity-store';

/** A store that counts its getByClientId calls. */
function countingStore() {
  const rows = new Map<string, ServiceIdentity>();
  let lookups = 0;
  const store: ServiceIdentityStore = {
    create: async (s) => void rows.set(s.id, s),
    get: async (t, name) => [...rows.values()].find((s) => s.tenantId === t && s.name === name) ?? null,
    getById: async (t, id) => (rows.get(id)?.tenantId === t ? (rows.get(id) ?? null) : null),
    getByClientId: async (c) => {
      lookups++;
      return [...rows.values()].find((s) => s.clientId === c) ?? null;
    },
    list: async (t) => [...rows.values()].filter((s) => s.tenantId === t),
    delete: async (t, id) => rows.get(id)?.tenantId === t && rows.delete(id),
  };
  return { store, rows, lookups: () => lookups };
}

const svc = (id: string, clientId: string): ServiceIdentity => ({ id, tenantId: 't1', name: id, clientId, createdAt: new Date(0) });

test('a found identity is reused for the TTL, then looked up again', async () => {
  const clock = new FakeClock();
  const s = countingStore();
  s.rows.set('a', svc('a', 'client-a'));
  const cached = new CachedServiceIdentityStore({ store: s.store, clock, ttlMs: 1000 });
  expect((await cached.getByClientId('client-a'))?.id).toBe('a');
  expect((await cached.getByClientId('client-a'))?.id).toBe('a');
  expect(s.lookups()).toBe(1);
  clock.advance(1001);
  await cached.getByClientId('client-a');
  expect(s.lookups()).toBe(2);
});

test('an unknown client id is never kept: one created meanwhile (on another replica) is found at once', async () => {
  const s = countingStore();
  const cached = new CachedServiceIdentityStore({ store: s.store, clock: new FakeClock() });
  expect(await cached.getByClientId('client-b')).toBeNull();
  s.rows.set('b', svc('b', 'client-b'));
  expect((await cached.getByClientId('client-b'))?.id).toBe('b');
});

test('a delete through this process drops what was kept, even for a lookup racing it', async () => {
  const s = countingStore();
  s.rows.set('a', svc('a', 'client-a'));
  const cached = new CachedServiceIdentityStore({ store: s.store, clock: new FakeClock() });
  await cached.getByClientId('client-a');
  expect(await cached.delete('t1', 'a')).toBe(true);
  expect(await cached.getByClientId('client-a')).toBeNull();

  s.rows.set('c', svc('c', 'client-c'));
  const racing = cached.getByClientId('client-c'); // reads the row before the delete lands
  await cached.delete('t1', 'c');
  expect((await racing)?.id).toBe('c');
  expect(await cached.getByClientId('client-c')).toBeNull();
});
