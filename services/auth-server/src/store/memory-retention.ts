/** Deletes at most `limit` entries of `map` matching `ended`; how many (the memory stores' deleteExpired). */
export function deleteWhere<V>(map: Map<string, V>, ended: (v: V) => boolean, limit: number): number {
  let n = 0;
  for (const [k, v] of map) {
    if (n >= limit) break;
    if (ended(v)) {
      map.delete(k);
      n++;
    }
  }
  return n;
}
