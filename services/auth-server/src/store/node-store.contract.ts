import { randomUUID } from 'node:crypto';
import type { Node, NodeStore } from '../domain/node';

/** The one suite every NodeStore passes (STYLE.md §4), for what it answers across tenants. */
export function nodeStoreContract(name: string, make: () => Promise<{ store: NodeStore; tenants: [string, string]; close(): Promise<void> }>): void {
  describe(`NodeStore contract: ${name}`, () => {
    let store: NodeStore;
    let tenantA: string;
    let tenantB: string;
    let close: () => Promise<void>;
    beforeAll(async () => {
      let tenants: [string, string];
      ({ store, tenants, close } = await make());
      [tenantA, tenantB] = tenants;
    });
    afterAll(async () => close());

    const node = (tenantId: string, n: string, addr: string): Node => ({ id: randomUUID(), tenantId, name: n, addr, labels: {}, hostPublicKey: null, hostKeyFingerprint: null, joinedAt: null, lastSeenAt: null, certExpiresAt: null, createdAt: new Date() });

    test('hostNamesOfOtherTenants: the names and address hosts of the other tenants’ nodes, never the asking tenant’s own', async () => {
      await store.create(node(tenantA, 'web-1', 'Web-1.Example.com:22'));
      await store.create(node(tenantA, 'db-1', '[2001:db8::5]:2222'));
      await store.create(node(tenantA, 'cache-1', '10.0.0.7:22'));
      const asked = ['web-1', 'web-1.example.com', '2001:db8::5', '10.0.0.7', 'db-1', 'cache-1', 'other', '10.0.0.70'];
      expect((await store.hostNamesOfOtherTenants(tenantB, asked)).sort()).toEqual(['10.0.0.7', '2001:db8::5', 'cache-1', 'db-1', 'web-1', 'web-1.example.com']);
      expect(await store.hostNamesOfOtherTenants(tenantA, asked)).toEqual([]);
      expect(await store.hostNamesOfOtherTenants(tenantB, [])).toEqual([]);
    });
  });
}
