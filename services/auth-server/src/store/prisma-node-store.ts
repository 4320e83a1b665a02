import { translateDbError } from '@mezite/platform';
import type { Node, NodeStore } from '../domain/node';
import type { PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['node']['findFirst']>>>;

function toDomain(r: Row): Node {
  return {
    id: r.id,
    tenantId: r.tenantId,
    name: r.name,
    addr: r.addr,
    labels: (r.labels ?? {}) as Record<string, string>,
    hostPublicKey: r.hostPublicKey,
    hostKeyFingerprint: r.hostKeyFingerprint,
    joinedAt: r.joinedAt,
    lastSeenAt: r.lastSeenAt,
    certExpiresAt: r.certExpiresAt,
    createdAt: r.createdAt,
  };
}

/** NodeStore on PostgreSQL (schema `auth`, table `nodes`). */
export class PrismaNodeStore implements NodeStore {
  constructor(private readonly db: PrismaClient) {}

  private async run<T>(fn: () => Promise<T>, what = 'node'): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw translateDbError(err, what);
    }
  }

  create(n: Node): Promise<void> {
    return this.run(async () => {
      await this.db.node.create({ data: { id: n.id, tenantId: n.tenantId, name: n.name, addr: n.addr, labels: n.labels, createdAt: n.createdAt } });
    }, `node "${n.name}"`);
  }

  get(tenantId: string, name: string): Promise<Node | null> {
    return this.run(async () => {
      const r = await this.db.node.findUnique({ where: { tenantId_name: { tenantId, name } } });
      return r ? toDomain(r) : null;
    });
  }

  getById(tenantId: string, id: string): Promise<Node | null> {
    return this.run(async () => {
      const r = await this.db.node.findFirst({ where: { tenantId, id } });
      return r ? toDomain(r) : null;
    });
  }

  hostNamesOfOtherTenants(tenantId: string, hostNames: string[]): Promise<string[]> {
    if (hostNames.length === 0) return Promise.resolve([]);
    return this.run(async () => {
      // addr is stored as `host:port` or `[v6]:port` (parseNodeAddr), so its host is what precedes the last colon.
      const rows = await this.db.$queryRaw<Array<{ h: string }>>`
        SELECT DISTINCT h FROM auth.nodes,
          LATERAL (VALUES (lower(name)), (lower(btrim(regexp_replace(addr, ':[0-9]+$', ''), '[]')))) AS v(h)
        WHERE tenant_id <> ${tenantId}::uuid AND h = ANY(${hostNames}::text[])`;
      const taken = new Set(rows.map((r) => r.h));
      return hostNames.filter((h) => taken.has(h));
    });
  }

  findByHostKey(fingerprint: string): Promise<Node | null> {
    return this.run(async () => {
      const r = await this.db.node.findFirst({ where: { hostKeyFingerprint: fingerprint } });
      return r ? toDomain(r) : null;
    });
  }

  list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<Node[]> {
    return this.run(async () =>
      (
        await this.db.node.findMany({
          where: { tenantId, ...(opts.afterName !== undefined ? { name: { gt: opts.afterName } } : {}) },
          orderBy: { name: 'asc' },
          take: opts.limit,
        })
      ).map(toDomain),
    );
  }

  delete(tenantId: string, id: string): Promise<boolean> {
    return this.run(async () => (await this.db.node.deleteMany({ where: { tenantId, id } })).count > 0);
  }

  recordJoin(tenantId: string, id: string, j: { hostPublicKey: string; hostKeyFingerprint: string; at: Date; certExpiresAt: Date }): Promise<void> {
    return this.run(async () => {
      await this.db.node.updateMany({ where: { tenantId, id }, data: { hostPublicKey: j.hostPublicKey, hostKeyFingerprint: j.hostKeyFingerprint, joinedAt: j.at, lastSeenAt: j.at, certExpiresAt: j.certExpiresAt } });
    }, 'node host key');
  }

  recordRenewal(tenantId: string, id: string, r: { at: Date; certExpiresAt: Date }): Promise<void> {
    return this.run(async () => {
      await this.db.node.updateMany({ where: { tenantId, id }, data: { lastSeenAt: r.at, certExpiresAt: r.certExpiresAt } });
    });
  }
}
