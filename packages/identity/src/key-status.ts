import type { KeyRing, KeyUsage } from './key-ring';

/** Where a key id stands in a service's configuration. */
export type KeyRole = 'current' | 'previous' | 'unknown' | 'not configured';

/** One line of `mezite-keys status`: a key id and how many live rows of each kind use it. */
export interface KeyStatusRow {
  /** The key id, or `unknown` for rows hashed before keys had ids. */
  keyId: string;
  role: KeyRole;
  rows: Record<string, number>;
}

/** What `mezite-keys status` reports for one ring of keys. */
export interface KeyStatus {
  /** The variable holding the current key (`MEZITE_TOKEN_PEPPER`). */
  variable: string;
  rows: KeyStatusRow[];
  /** Previous keys no live row uses: they can be removed from `<variable>_PREVIOUS`. */
  droppable: string[];
  /** Previous keys still in use, or rows whose key is unknown while a previous key is set. */
  stillNeeded: string[];
}

/**
 * The status of a ring: every configured key (even unused) and every key id found in the
 * stores, with the live rows of each kind (`usage`: kind → counts) under it. A previous
 * key may be dropped once no live row uses it and no row's key is unknown (such a row
 * may be under it).
 */
export function keyStatus(variable: string, ring: KeyRing, usage: Record<string, KeyUsage[]>): KeyStatus {
  const kinds = Object.keys(usage);
  const byId = new Map<string | null, Record<string, number>>();
  const row = (id: string | null) => {
    let r = byId.get(id);
    if (!r) byId.set(id, (r = Object.fromEntries(kinds.map((k) => [k, 0]))));
    return r;
  };
  row(ring.current.id);
  for (const k of ring.previous) row(k.id);
  for (const [kind, us] of Object.entries(usage)) for (const u of us) row(u.keyId)[kind] = (row(u.keyId)[kind] ?? 0) + u.rows;
  const roleOf = (id: string | null): KeyRole => (id === null ? 'unknown' : id === ring.current.id ? 'current' : ring.previous.some((k) => k.id === id) ? 'previous' : 'not configured');
  const order: KeyRole[] = ['current', 'previous', 'unknown', 'not configured'];
  const rows = [...byId.entries()]
    .filter(([id, counts]) => id !== null || Object.values(counts).some((n) => n > 0))
    .map(([id, counts]) => ({ keyId: id ?? 'unknown', role: roleOf(id), rows: counts }))
    .sort((a, b) => order.indexOf(a.role) - order.indexOf(b.role));
  const used = (r: KeyStatusRow) => Object.values(r.rows).some((n) => n > 0);
  const unknownUsed = rows.some((r) => r.role === 'unknown' && used(r));
  const previous = rows.filter((r) => r.role === 'previous');
  return {
    variable,
    rows,
    droppable: previous.filter((r) => !used(r) && !unknownUsed).map((r) => r.keyId),
    stillNeeded: previous.filter((r) => used(r) || unknownUsed).map((r) => r.keyId),
  };
}

/** `keyStatus` as the table and advice `mezite-keys status` prints. */
export function formatKeyStatus(s: KeyStatus): string {
  const kinds = Object.keys(s.rows[0]?.rows ?? {});
  const header = ['KEY', 'ROLE', ...kinds.map((k) => k.toUpperCase())];
  const lines = [header, ...s.rows.map((r) => [r.keyId, r.role, ...kinds.map((k) => String(r.rows[k] ?? 0))])];
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  let out = `${s.variable}\n` + lines.map((l) => l.map((c, i) => (i === l.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + '\n';
  if (s.droppable.length > 0) out += `No live row needs ${s.droppable.join(', ')}: remove it from ${s.variable}_PREVIOUS and restart.\n`;
  if (s.stillNeeded.length > 0) out += `Still needed: ${s.stillNeeded.join(', ')} (rows re-hash or re-wrap as they are used; rows never used stop working once their key is removed).\n`;
  if (s.droppable.length === 0 && s.stillNeeded.length === 0) out += `No previous key configured.\n`;
  return out;
}
