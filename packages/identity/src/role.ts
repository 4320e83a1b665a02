import { invalidArgument } from './errors';
import { parseDuration } from './duration';

/** Label selectors: label name → allowed values; `'*'` matches any name or value. */
export type LabelSelector = Record<string, string[]>;

/** A role as seed 002 writes it (`kind: role`). */
export interface Role {
  name: string;
  description: string;
  options: {
    /** Longest certificate this role allows, in ms. */
    maxSessionTtlMs: number;
    /** OpenSSH certificate extensions granted (`permit-pty`, …). */
    sshExtensions: string[];
  };
  allow: { logins: string[]; nodeLabels: LabelSelector };
  deny: { logins: string[]; nodeLabels: LabelSelector };
}

/** The OpenSSH certificate extensions a role may grant (`spec.options.ssh_extensions`). */
export const SSH_EXTENSIONS: readonly string[] = ['permit-X11-forwarding', 'permit-agent-forwarding', 'permit-port-forwarding', 'permit-pty', 'permit-user-rc'];
/**
 * What a role grants when it lists no extensions: a terminal, nothing else. Port, agent
 * and X11 forwarding and `~/.ssh/rc` (what `ssh-keygen -s` grants by default) turn a
 * bot's login into a tunnel or a use of the caller's agent, so a role must ask for them.
 */
export const DEFAULT_SSH_EXTENSIONS: readonly string[] = ['permit-pty'];
const KNOWN_EXTENSIONS = new Set(SSH_EXTENSIONS);
/** The longest max_session_ttl a role may set. */
export const MAX_ROLE_TTL_MS = 30 * 24 * 3600_000;
const DEFAULT_ROLE_TTL_MS = 12 * 3600_000;
const LOGIN = /^[a-z_][a-z0-9_.-]{0,31}\$?$|^\*$/i;

/**
 * Computes the SSH principals a set of roles grants: every allowed login minus every
 * denied login, over all roles. Deny always wins; `'*'` in deny denies everything.
 */
export function allowedLogins(roles: Role[]): string[] {
  const deny = new Set(roles.flatMap((r) => r.deny.logins));
  if (deny.has('*')) return [];
  const allow = new Set(roles.flatMap((r) => r.allow.logins).filter((l) => l !== '*'));
  return [...allow].filter((l) => !deny.has(l)).sort();
}

/** The certificate TTL for a request: the requested TTL clamped to every role's max_session_ttl. */
export function clampTtl(requestedMs: number, roles: Role[]): number {
  return Math.min(requestedMs, ...roles.map((r) => r.options.maxSessionTtlMs));
}

/**
 * True when `labels` satisfy `selector`: every named label has one of the listed values.
 * Only own properties count, on both sides: a selector naming `toString` or
 * `constructor` matches a node only by a label of that name the node really has, never
 * by what every object inherits from Object.prototype.
 */
export function labelsMatch(selector: LabelSelector, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  if (entries.length === 0) return false;
  return entries.every(([k, values]) => {
    if (!Array.isArray(values)) return false;
    if (k === '*') return values.includes('*');
    const v: unknown = Object.hasOwn(labels, k) ? labels[k] : undefined;
    return typeof v === 'string' && (values.includes('*') || values.includes(v));
  });
}

/**
 * The logins `roles` grant on a node with `labels`: a role contributes its allowed
 * logins if its allow.node_labels match; any matching deny (by labels or login) wins.
 */
export function loginsForNode(roles: RoleGrant[], labels: Record<string, string>): string[] {
  const deniedByLabels = roles.some((r) => Object.keys(r.deny.nodeLabels).length > 0 && labelsMatch(r.deny.nodeLabels, labels));
  if (deniedByLabels) return [];
  const granting = roles.filter((r) => labelsMatch(r.allow.nodeLabels, labels));
  const deny = new Set(roles.flatMap((r) => r.deny.logins));
  if (deny.has('*')) return [];
  return [...new Set(granting.flatMap((r) => r.allow.logins))].filter((l) => l !== '*' && !deny.has(l)).sort();
}

/** What a role allows and denies: all a node needs to decide a login (carried in certificates). */
export type RoleGrant = Pick<Role, 'allow' | 'deny'>;

/** The grants of `roles` in the compact form certificates carry (`mezite@mezite.dev` extension). */
export function grantsOf(roles: Role[]): Array<{ allow: { logins: string[]; node_labels: LabelSelector }; deny: { logins: string[]; node_labels: LabelSelector } }> {
  return roles.map((r) => ({ allow: { logins: r.allow.logins, node_labels: r.allow.nodeLabels }, deny: { logins: r.deny.logins, node_labels: r.deny.nodeLabels } }));
}

/**
 * Reads grants back from a certificate's extension. Anything malformed gives null, so
 * the caller refuses (a node must never allow a login on a grant it cannot read).
 */
export function grantsFromClaims(raw: unknown): RoleGrant[] | null {
  if (!Array.isArray(raw)) return null;
  const strings = (x: unknown): string[] | null => (Array.isArray(x) && x.every((s) => typeof s === 'string') ? (x as string[]) : null);
  const selector = (x: unknown): LabelSelector | null => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) return null;
    const out: LabelSelector = {};
    for (const [k, v] of Object.entries(x)) {
      const vs = strings(v);
      // `out.__proto__ = vs` would set out's prototype and drop the label: a deny that
      // silently matches less. No role can hold that name (validateRole), so refuse.
      if (!vs || k === '__proto__') return null;
      out[k] = vs;
    }
    return out;
  };
  const grants: RoleGrant[] = [];
  for (const g of raw) {
    const allowLogins = strings(g?.allow?.logins);
    const denyLogins = strings(g?.deny?.logins);
    const allowLabels = selector(g?.allow?.node_labels ?? {});
    const denyLabels = selector(g?.deny?.node_labels ?? {});
    if (!allowLogins || !denyLogins || !allowLabels || !denyLabels) return null;
    grants.push({ allow: { logins: allowLogins, nodeLabels: allowLabels }, deny: { logins: denyLogins, nodeLabels: denyLabels } });
  }
  return grants;
}

/** Validates a role's fields; throws InvalidArgument naming the field. */
export function validateRole(input: {
  name: string;
  description?: string;
  maxSessionTtl?: string;
  sshExtensions?: string[];
  allowLogins?: string[];
  denyLogins?: string[];
  allowNodeLabels?: LabelSelector;
  denyNodeLabels?: LabelSelector;
}): Role {
  const fieldErr = (field: string, msg: string) => invalidArgument(`${field}: ${msg}`);
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(input.name)) throw fieldErr('metadata.name', `invalid role name "${input.name}": use 1 to 63 lower-case letters, digits and '-'`);
  let ttl = DEFAULT_ROLE_TTL_MS;
  if (input.maxSessionTtl !== undefined) {
    try {
      ttl = parseDuration(input.maxSessionTtl, 'spec.options.max_session_ttl');
    } catch (e) {
      throw fieldErr('spec.options.max_session_ttl', `invalid duration "${input.maxSessionTtl}"; use e.g. 30m or 1h`);
    }
    if (ttl < 60_000 || ttl > MAX_ROLE_TTL_MS) throw fieldErr('spec.options.max_session_ttl', 'must be between 1m and 720h');
  }
  const logins = (field: string, l: string[] | undefined) => {
    for (const x of l ?? []) if (!LOGIN.test(x)) throw fieldErr(field, `invalid login "${x}"`);
    return [...new Set(l ?? [])];
  };
  const exts = input.sshExtensions ?? DEFAULT_SSH_EXTENSIONS;
  for (const e of exts) if (!KNOWN_EXTENSIONS.has(e)) throw fieldErr('spec.options.ssh_extensions', `unknown extension "${e}"; known: ${SSH_EXTENSIONS.join(', ')}`);
  return {
    name: input.name,
    description: input.description ?? '',
    options: { maxSessionTtlMs: ttl, sshExtensions: [...new Set(exts)].sort() },
    allow: { logins: logins('spec.allow.logins', input.allowLogins), nodeLabels: ownSelector('spec.allow.node_labels', input.allowNodeLabels) },
    deny: { logins: logins('spec.deny.logins', input.denyLogins), nodeLabels: ownSelector('spec.deny.node_labels', input.denyNodeLabels) },
  };
}

/**
 * A copy of a selector holding its own entries only, each a list of strings. `__proto__`
 * is refused: no node label can have that name (node label names start with a letter or
 * digit), and as a key of a plain object it is a trap for the next `out[k] = v`.
 */
function ownSelector(field: string, sel: LabelSelector | undefined): LabelSelector {
  const out: LabelSelector = {};
  for (const [k, values] of Object.entries(sel ?? {})) {
    if (k === '__proto__') throw invalidArgument(`${field}.${k}: not a valid label name`);
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) throw invalidArgument(`${field}.${k}: expected a list of strings`);
    out[k] = [...values];
  }
  return out;
}
