import type { KeyUsage } from '@mezite/identity';

/** Key usage from the key ids of rows (undefined: none recorded), ordered by key id with the unknown last. */
export function countKeys(ids: ReadonlyArray<string | undefined>): KeyUsage[] {
  const m = new Map<string | null, number>();
  for (const id of ids) m.set(id ?? null, (m.get(id ?? null) ?? 0) + 1);
  return [...m.entries()].map(([keyId, rows]) => ({ keyId, rows })).sort(byKeyId);
}

/** Orders key usages by key id, the unknown (null) last. */
export function byKeyId(a: KeyUsage, b: KeyUsage): number {
  if (a.keyId === b.keyId) return 0;
  if (a.keyId === null) return 1;
  if (b.keyId === null) return -1;
  return a.keyId < b.keyId ? -1 : 1;
}
