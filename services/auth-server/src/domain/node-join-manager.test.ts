import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { FakeClock, isMeziteError, type Principal } from '@mezite/identity';
import { createTestDatabase, nullLogger, runMigrations } from '@mezite/platform';
import { formatPublicKey, parsePublicKey, signRenewal } from '@mezite/ssh';
import { MemoryAuditLog } from '../store/memory-audit-log';
import { MemoryBotStore } from '../store/memory-bot-store';
import { MemoryNodeStore, MemoryRevocationStore } from '../store/memory-node-store';
import { MemoryRenewalChallengeStore } from '../store/memory-renewal-challenge-store';
import { MemoryRoleStore } from '../store/memory-role-store';
import { createPrismaClient, pgPoolOf } from '../store/prisma';
import { PrismaRenewalChallengeStore } from '../store/prisma-renewal-challenge-store';
import { NodeJoinManager } from './node-join-manager';
import { NodeManager } from './node-manager';
import type { RenewalChallengeStore } from './renewal-challenge';
import { RevocationList } from './revocation';
import { RoleManager } from './role-manager';
import { botWorld, FakeCa } from './test-doubles';

const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
};

/** What an anonymous caller can make the server store: challenges (per backend) and audit records. */
interface Backend {
  name: string;
  make(): Promise<{ store: RenewalChallengeStore; rows(): Promise<number>; close(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'memory',
    make: async () => {
      const store = new MemoryRenewalChallengeStore();
      return { store, rows: async () => store.size(), close: async () => undefined };
    },
  },
  {
    name: 'postgres',
    make: async () => {
      const db = await createTestDatabase();
      await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
      const prisma = createPrismaClient(db.url, 4);
      const rows = async () => Number((await pgPoolOf(prisma).query<{ n: string }>('SELECT count(*) AS n FROM auth.renewal_challenges')).rows[0]?.n);
      return {
        store: new PrismaRenewalChallengeStore(prisma),
        rows,
        close: async () => {
          await prisma.$disconnect();
          await db.drop();
        },
      };
    },
  },
];

describe.each(backends)('anonymous callers of the node join service cannot grow the database without bound ($name)', (backend) => {
  const tenantId = randomUUID();
  const admin: Principal = { kind: 'user', id: randomUUID(), tenantId, name: 'admin', authMethod: 'bootstrap-admin', roles: ['admin'] };
  let clock: FakeClock;
  let audit: MemoryAuditLog;
  let nodeJoins: NodeJoinManager;
  let nodes: NodeManager;
  let b: Awaited<ReturnType<Backend['make']>>;

  beforeEach(async () => {
    clock = new FakeClock('2026-06-01T10:00:00Z');
    const ca = new FakeCa(clock);
    audit = new MemoryAuditLog();
    const botStore = new MemoryBotStore();
    const nodeStore = new MemoryNodeStore();
    const roles = new RoleManager({ store: new MemoryRoleStore(), bots: botStore, clock });
    const revocationStore = new MemoryRevocationStore();
    const krl = new RevocationList({ store: revocationStore, bots: botStore, ca, clock, cacheMs: 1000 });
    const world = botWorld({ clock, ca, roles, botStore, audit, revocations: krl, revocationStore, nodes: nodeStore });
    b = await backend.make();
    nodes = new NodeManager({ store: nodeStore, bots: botStore, roles, joinTokens: world.joinTokens, revocations: krl, audit, clock, log: nullLogger });
    nodeJoins = new NodeJoinManager({ nodes: nodeStore, tokens: world.tokenStore, tokenHash: world.tokenHash, ca, challenges: b.store, audit, clock });
  });
  afterEach(async () => b.close());

  /** A joined node: its (public) host certificate and its host key. */
  const joinedNode = async (name = 'web-1') => {
    const { joinToken } = await nodes.add(admin, { name, addr: '127.0.0.1:22', labels: {}, tokenTtlMs: 0, requestId: 'r' });
    const k = generateKeyPairSync('ed25519');
    const line = formatPublicKey(k.publicKey);
    const r = await nodeJoins.join({ joinToken, hostPublicKey: line, requestedTtlMs: 3600_000, requestId: 'r', source: '192.0.2.1' });
    return { cert: r.hostCertificate, key: k.privateKey, blob: parsePublicKey(line).blob };
  };
  const nodeRecords = () => audit.events.filter((e) => e.type.startsWith('node.') && e.result === 'failure');

  test('1,000 BeginNodeRenewal calls with one public host certificate, from 1,000 addresses, leave at most 4 challenges; the node still renews', async () => {
    const node = await joinedNode();
    for (let i = 0; i < 1000; i++) await nodeJoins.beginRenewal({ hostCertificate: node.cert, requestId: `r${i}`, source: `10.0.${i >> 8}.${i & 255}` });
    expect(await b.rows()).toBeLessThanOrEqual(4);
    // The node itself asks right after the flood, and completes its renewal.
    const begun = await nodeJoins.beginRenewal({ hostCertificate: node.cert, requestId: 'node', source: '192.0.2.1' });
    const renewed = await nodeJoins.completeRenewal({ challengeId: begun.challengeId, signature: signRenewal(node.key, begun.challenge, node.blob), requestedTtlMs: 0, requestId: 'node', source: '192.0.2.1' });
    expect(renewed.node.name).toBe('web-1');
    expect(await b.rows()).toBeLessThanOrEqual(4 + 1); // the used one stays until retention
    // Challenges of another node are not taken by this node's flood.
    const other = await joinedNode('web-2');
    const kept = await nodeJoins.beginRenewal({ hostCertificate: other.cert, requestId: 'r', source: '192.0.2.2' });
    for (let i = 0; i < 20; i++) await nodeJoins.beginRenewal({ hostCertificate: node.cert, requestId: 'r', source: `10.1.0.${i}` });
    await nodeJoins.completeRenewal({ challengeId: kept.challengeId, signature: signRenewal(other.key, kept.challenge, other.blob), requestedTtlMs: 0, requestId: 'r', source: '192.0.2.2' });
  });

  test('from one address, a node takes 10 BeginNodeRenewal calls a minute; the rest are RESOURCE_EXHAUSTED and audited once', async () => {
    const node = await joinedNode();
    const errors: Error[] = [];
    for (let i = 0; i < 1000; i++) await nodeJoins.beginRenewal({ hostCertificate: node.cert, requestId: `r${i}`, source: '203.0.113.9' }).catch((err: Error) => errors.push(err));
    expect(errors).toHaveLength(1000 - 10);
    expect(errors.every((e) => isMeziteError(e, 'ResourceExhausted'))).toBe(true);
    expect(nodeRecords().map((e) => [e.type, e.details.reason, e.tenantId])).toEqual([['node.renew', 'rate limited', tenantId]]);
    expect(await b.rows()).toBeLessThanOrEqual(4);
    // The node, from its own address, is not held back by the flood.
    await nodeJoins.beginRenewal({ hostCertificate: node.cert, requestId: 'node', source: '192.0.2.1' });
    clock.advance(60_000);
    await nodeJoins.beginRenewal({ hostCertificate: node.cert, requestId: 'later', source: '203.0.113.9' });
  });

  test('refused host certificates, bad renewal signatures and bad node join tokens write a bounded number of audit records', async () => {
    const node = await joinedNode();
    const garbage: Error[] = [];
    for (let i = 0; i < 300; i++) garbage.push(await failure(nodeJoins.beginRenewal({ hostCertificate: `not a certificate ${i}`, requestId: 'r', source: '203.0.113.7' })));
    expect(garbage.every((e) => isMeziteError(e, 'Unauthenticated') || isMeziteError(e, 'ResourceExhausted'))).toBe(true);
    expect(garbage.some((e) => isMeziteError(e, 'ResourceExhausted'))).toBe(true);
    const joins = await Promise.all(Array.from({ length: 300 }, () => failure(nodeJoins.join({ joinToken: `tok-node-${randomUUID().replace(/-/g, '')}`, hostPublicKey: formatPublicKey(generateKeyPairSync('ed25519').publicKey), requestedTtlMs: 0, requestId: 'r', source: '203.0.113.8' }))));
    expect(joins.every((e) => isMeziteError(e, 'Unauthenticated'))).toBe(true);
    // A challenge is anyone's for the public certificate; a signature by another key is refused.
    for (let i = 0; i < 300; i++) {
      const begun = await nodeJoins.beginRenewal({ hostCertificate: node.cert, requestId: 'r', source: `10.2.${i >> 8}.${i & 255}` });
      const wrong = signRenewal(generateKeyPairSync('ed25519').privateKey, begun.challenge, node.blob);
      expect(isMeziteError(await failure(nodeJoins.completeRenewal({ challengeId: begun.challengeId, signature: wrong, requestedTtlMs: 0, requestId: 'r', source: '203.0.113.6' })), 'Unauthenticated')).toBe(true);
    }
    // At most 30 per source a minute, then one "audit limit reached"/"rate limited" record.
    const bySource = new Map<string, number>();
    for (const e of nodeRecords()) bySource.set(e.details.source ?? '', (bySource.get(e.details.source ?? '') ?? 0) + 1);
    expect([...bySource.keys()].sort()).toEqual(['203.0.113.6', '203.0.113.7', '203.0.113.8']);
    for (const n of bySource.values()) expect(n).toBeLessThanOrEqual(31);
    expect(nodeRecords().find((e) => e.details.source === '203.0.113.6')).toMatchObject({ type: 'node.renew', tenantId, target: 'node:web-1', details: { reason: 'bad proof of possession' } });
    expect(nodeRecords().find((e) => e.details.source === '203.0.113.8')).toMatchObject({ type: 'node.join', details: { reason: 'unknown token' } });
  });
});
