/** Default port step between replicas of one listener (3025, 3035, …). */
export const REPLICA_PORT_STEP = 10;

/**
 * `spec` as one address per replica: a comma-separated list of exactly `n`, or one
 * address whose port grows by 10 per further replica.
 */
export function replicaList(spec: string, n: number, option: string): string[] {
  const list = spec.split(',').map((a) => a.trim()).filter(Boolean);
  if (list.length === n) return list;
  const m = /^(.*):(\d+)$/.exec(list[0] ?? '');
  if (list.length !== 1 || !m) throw new Error(`${option}: expected ${n} comma-separated addresses (one per replica) or one host:port, got "${spec}"`);
  return Array.from({ length: n }, (_, i) => `${m[1]}:${Number(m[2]) + REPLICA_PORT_STEP * i}`);
}

/**
 * The gRPC target an auth-server dials for a replicated service: the address itself
 * for one replica; `ipv4:a:p,b:q` (or `ipv6:`) for several, which grpc-js balances
 * round robin. Replicas must then listen on IP literals.
 */
export function balancedTarget(list: string[]): string {
  if (list.length === 1) return list[0] as string;
  if (list.every((a) => /^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(a))) return `ipv4:${list.join(',')}`;
  if (list.every((a) => /^\[[0-9a-fA-F:.]+\]:\d+$/.test(a))) return `ipv6:${list.join(',')}`;
  throw new Error(`replicated services must listen on IP addresses of one family, got ${list.join(', ')}`);
}
