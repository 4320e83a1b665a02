import { randomUUID } from 'node:crypto';
import { alreadyExists, explainLogin, formatIdentityRef, invalidArgument, loginsForNode, notFound, permissionDenied, type AccessExplanation, type Clock, type Principal, type Role } from '@mezite/identity';
import { ADMIN_ROLE, requirePrincipal } from './authz';
import type { Logger } from '@mezite/platform';
import type { AuditLog } from './audit';
import { audited } from './audited-action';
import { activeLock, type BotStore } from './bot';
import type { JoinTokenMinter } from './join-token-minter';
import { checkLabels, NODE_NAME, parseNodeAddr, refuseHostNamesOfOtherTenants, type Node, type NodeStore } from './node';
import { pageByName } from './page';
import type { RevocationList } from './revocation';

const MIN_TOKEN_TTL_MS = 60_000;
const MAX_TOKEN_TTL_MS = 7 * 24 * 3600_000;
/** Host certificates live at most this long, so a removed node's revocation can expire after it. */
export const MAX_HOST_CERT_TTL_MS = 30 * 24 * 3600_000;

/** A node as a caller sees it; for a bot, with the logins its roles allow there. */
export interface VisibleNode extends Node {
  logins?: string[];
}

/** Options of NodeManager. */
export interface NodeManagerOptions {
  store: NodeStore;
  bots: Pick<BotStore, 'getById' | 'get'>;
  roles: { resolve(tenantId: string, names: string[]): Promise<Array<{ role: Role }>> };
  joinTokens: JoinTokenMinter;
  revocations: Pick<RevocationList, 'revokeSubject'>;
  audit: AuditLog;
  clock: Clock;
  /** Where a failed outcome record of an audited-first action goes (audited-action.ts). */
  log: Pick<Logger, 'warn'>;
}

/**
 * The node inventory. Admins add nodes (getting a one-time `tok-node-…` join token),
 * list and remove them; a bot, authenticated by its certificate, sees only the nodes
 * its roles reach, each with the logins allowed there — the same rule the node's
 * `mezd authorized-principals` applies offline.
 */
export class NodeManager {
  constructor(private readonly o: NodeManagerOptions) {
    for (const k of ['store', 'bots', 'roles', 'joinTokens', 'revocations', 'audit', 'clock', 'log'] as const) if (!o[k]) throw new Error(`NodeManager: ${k} is required`);
  }

  /** Stores the node, then mints its join token (removing the node again if minting fails). */
  async add(caller: Principal, input: { name: string; addr: string; labels: Record<string, string>; tokenTtlMs: number; requestId: string }): Promise<{ node: Node; joinToken: string; joinTokenExpiresAt: Date }> {
    const admin = this.requireAdmin(caller, 'add nodes');
    if (!NODE_NAME.test(input.name)) throw invalidArgument(`--name "${input.name}": use 1 to 63 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit`);
    const { addr } = parseNodeAddr(input.addr);
    const labels = checkLabels(input.labels);
    const ttl = input.tokenTtlMs || 3600_000;
    if (ttl < MIN_TOKEN_TTL_MS || ttl > MAX_TOKEN_TTL_MS) throw invalidArgument('--token-ttl must be between 1m and 7d');
    if (await this.o.store.get(admin.tenantId, input.name)) throw alreadyExists(`node "${input.name}" already exists`);
    await refuseHostNamesOfOtherTenants(this.o.store, { tenantId: admin.tenantId, name: input.name, addr });
    const node: Node = { id: randomUUID(), tenantId: admin.tenantId, name: input.name, addr, labels, hostPublicKey: null, hostKeyFingerprint: null, joinedAt: null, lastSeenAt: null, certExpiresAt: null, createdAt: this.o.clock.now() };
    // Audited first; then token, then the node (see BotManager.create): a failure between
    // the two leaves a token naming no node, which no join accepts, never a node without a token.
    const token = await audited(
      { audit: this.o.audit, log: this.o.log },
      { tenantId: node.tenantId, type: 'node.add', actor: formatIdentityRef(admin), target: `node:${node.name}`, requestId: input.requestId, details: { addr, labels: JSON.stringify(labels) } },
      async () => {
        const t = await this.o.joinTokens.create({ tenantId: node.tenantId, subjectKind: 'node', subjectId: node.id, ttlMs: ttl, requestId: input.requestId });
        try {
          await this.o.store.create(node);
        } catch (err) {
          await this.o.joinTokens.revokeForSubject({ tenantId: node.tenantId, subjectId: node.id, requestId: input.requestId }).catch(() => undefined);
          throw err;
        }
        return t;
      },
    );
    return { node, joinToken: token.plaintext, joinTokenExpiresAt: token.expiresAt };
  }

  /** One node by name: admins see any node of their tenant, bots only the nodes they may reach (others are NotFound). */
  async get(caller: Principal, name: string): Promise<VisibleNode> {
    const p = requirePrincipal(caller);
    const node = await this.o.store.get(p.tenantId, name);
    const notThere = notFound(`node "${name}" not found`);
    if (!node) throw notThere;
    if (this.isAdmin(p)) return node;
    const [visible] = await this.visibleToBot(p, [node]);
    if (!visible) throw notThere;
    return visible;
  }

  /** One page of nodes by name (for a bot, filtered to the nodes it may reach). */
  async list(caller: Principal, page: { pageSize: number; pageToken: string }): Promise<{ nodes: VisibleNode[]; nextPageToken: string }> {
    const p = requirePrincipal(caller);
    const r = await pageByName(page, (o) => this.o.store.list(p.tenantId, o), (n) => n.name);
    return { nodes: this.isAdmin(p) ? r.items : await this.visibleToBot(p, r.items), nextPageToken: r.nextPageToken };
  }

  /** Removes the node: revokes its join tokens and every host certificate it holds (KRL). */
  async delete(caller: Principal, name: string, requestId: string): Promise<void> {
    const admin = this.requireAdmin(caller, 'remove nodes');
    const node = await this.o.store.get(admin.tenantId, name);
    if (!node) throw notFound(`node "${name}" not found`);
    await audited({ audit: this.o.audit, log: this.o.log }, { tenantId: node.tenantId, type: 'node.remove', actor: formatIdentityRef(admin), target: `node:${node.name}`, requestId, details: {} }, async () => {
      await this.o.joinTokens.revokeForSubject({ tenantId: node.tenantId, subjectId: node.id, requestId });
      const expires = new Date(Math.max(node.certExpiresAt?.getTime() ?? 0, this.o.clock.now().getTime() + MAX_HOST_CERT_TTL_MS));
      await this.o.revocations.revokeSubject(node.tenantId, node.id, `node ${node.name} removed`, expires);
      await this.o.store.delete(node.tenantId, node.id);
    });
  }

  /**
   * Why `bot` may or may not log in as `login` on `node` (`mezctl access explain`): a
   * lock first (every certificate of a locked bot is in the KRL), then its roles' rules
   * as `mezd authorized-principals` applies them at the node (explainLogin). Admins only.
   */
  async explainAccess(caller: Principal, input: { bot: string; node: string; login: string }): Promise<AccessExplanation & { lock?: { reason: string; lockedBy: string } }> {
    const admin = this.requireAdmin(caller, 'explain access');
    if (!input.login) throw invalidArgument('--login is required');
    const bot = await this.o.bots.get(admin.tenantId, input.bot);
    if (!bot) throw notFound(`bot "${input.bot}" not found`);
    const node = await this.o.store.get(admin.tenantId, input.node);
    if (!node) throw notFound(`node "${input.node}" not found`);
    const roles = (await this.o.roles.resolve(bot.tenantId, bot.roles)).map((r) => r.role);
    const e = explainLogin(roles, node.labels, input.login);
    const lock = activeLock(bot, this.o.clock.now());
    if (lock) return { ...e, allowed: false, reason: `the bot is locked (${lock.reason}): its certificates are in the KRL, whatever its roles allow`, lock: { reason: lock.reason, lockedBy: lock.lockedBy } };
    return e;
  }

  private isAdmin(p: Principal): boolean {
    return p.roles.includes(ADMIN_ROLE);
  }

  private requireAdmin(caller: Principal, action: string): Principal {
    const p = requirePrincipal(caller);
    if (!this.isAdmin(p)) throw permissionDenied(`${p.name} may not ${action}: the admin role is required`);
    return p;
  }

  /** The nodes a bot may reach, with its logins there; non-bots without admin see nothing. */
  private async visibleToBot(p: Principal, nodes: Node[]): Promise<VisibleNode[]> {
    if (p.authMethod !== 'bot-certificate') throw permissionDenied(`${p.name} may not list nodes: the admin role or a bot certificate is required`);
    const bot = await this.o.bots.getById(p.tenantId, p.id);
    if (!bot || activeLock(bot, this.o.clock.now())) return [];
    const roles = (await this.o.roles.resolve(bot.tenantId, bot.roles).catch(() => [])).map((r) => r.role);
    return nodes.flatMap((n) => {
      const logins = loginsForNode(roles, n.labels);
      return logins.length ? [{ ...n, logins }] : [];
    });
  }
}
