import { alreadyExists, invalidArgument } from '@mezite/identity';

/** An OpenSSH server in the inventory, enrolled with `mezd node`. */
export interface Node {
  id: string;
  tenantId: string;
  /** Unique in the tenant; the first principal of its host certificate. */
  name: string;
  /** `host:port` that ssh dials. */
  addr: string;
  labels: Record<string, string>;
  /** The enrolled host key (authorized_keys format) and its SHA256 fingerprint; null until the node joins. */
  hostPublicKey: string | null;
  hostKeyFingerprint: string | null;
  joinedAt: Date | null;
  lastSeenAt: Date | null;
  certExpiresAt: Date | null;
  createdAt: Date;
}

/** Persistence of nodes. */
export interface NodeStore {
  /** AlreadyExists when the tenant has a node of that name. */
  create(node: Node): Promise<void>;
  get(tenantId: string, name: string): Promise<Node | null>;
  getById(tenantId: string, id: string): Promise<Node | null>;
  /** The node enrolled with this host key, in any tenant. */
  findByHostKey(fingerprint: string): Promise<Node | null>;
  /**
   * Which of `hostNames` (lower case) a node of another tenant than `tenantId` answers
   * to, by its name or the host of its address: the names its host certificate carries.
   */
  hostNamesOfOtherTenants(tenantId: string, hostNames: string[]): Promise<string[]>;
  /** Nodes of the tenant ordered by name, after `afterName`, at most `limit`. */
  list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<Node[]>;
  delete(tenantId: string, id: string): Promise<boolean>;
  /** Records the node's join: its host key (AlreadyExists if another node has it) and certificate. */
  recordJoin(tenantId: string, id: string, j: { hostPublicKey: string; hostKeyFingerprint: string; at: Date; certExpiresAt: Date }): Promise<void>;
  /** Records a renewal. */
  recordRenewal(tenantId: string, id: string, r: { at: Date; certExpiresAt: Date }): Promise<void>;
}

/** Node names are host names: lower-case letters, digits, `-` and `.`. */
export const NODE_NAME = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9_./-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9_.:/-]{0,63}$/;
/** At most this many labels per node. */
export const MAX_LABELS = 32;

/** Checks labels; InvalidArgument names the bad one. */
export function checkLabels(labels: Record<string, string>): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) return fail(`at most ${MAX_LABELS} labels per node`);
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k)) return fail(`label name "${k}": use letters, digits, '-', '_', '.' and '/', at most 63`);
    if (!LABEL_VALUE.test(v)) return fail(`label ${k}: value "${v}" may use letters, digits, '-', '_', '.', ':' and '/', at most 63`);
  }
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function fail(msg: string): never {
  throw invalidArgument(`--labels: ${msg}`);
}

/**
 * AlreadyExists when a node of another tenant answers to one of `node`'s host names: the
 * Host CA is trusted by every tenant's bots, so a host certificate for a name another
 * tenant's bots dial would let one tenant's node pass for the other's.
 */
export async function refuseHostNamesOfOtherTenants(store: Pick<NodeStore, 'hostNamesOfOtherTenants'>, node: Pick<Node, 'tenantId' | 'name' | 'addr'>): Promise<void> {
  const taken = await store.hostNamesOfOtherTenants(node.tenantId, hostNamesOf(node));
  if (taken.length > 0) throw alreadyExists(`the host name ${taken.map((h) => `"${h}"`).join(', ')} is another node's: host certificates carry it, and the Host CA is trusted across tenants`);
}

/** The names a node's host certificate carries, lower case: its name and the host of its address. */
export function hostNamesOf(n: Pick<Node, 'name' | 'addr'>): string[] {
  return [...new Set([n.name, parseNodeAddr(n.addr).host].map((h) => h.toLowerCase()))];
}

/** Parses `host:port` (port 22 when omitted; IPv6 in brackets); InvalidArgument when malformed. */
export function parseNodeAddr(addr: string): { host: string; port: number; addr: string } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253})(?::(\d{1,5}))?$/.exec(addr.trim());
  const port = m?.[2] === undefined ? 22 : Number(m[2]);
  if (!m || port < 1 || port > 65535) {
    throw invalidArgument(`--addr "${addr}": expected HOST:PORT, e.g. 10.0.0.5:22 or web-1.internal:2222`);
  }
  const host = (m[1] as string).replace(/^\[|\]$/g, '');
  return { host, port, addr: `${m[1]}:${port}` };
}
