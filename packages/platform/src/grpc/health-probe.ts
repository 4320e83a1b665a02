import { ChannelCredentials } from '@grpc/grpc-js';
import { createChannel, createClient } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';

/** grpc.health.v1 ServingStatus names (the enum is not exported by nice-grpc-server-health). */
const STATUS: Record<number, string> = { 0: 'UNKNOWN', 1: 'SERVING', 2: 'NOT_SERVING', 3: 'SERVICE_UNKNOWN' };

const USAGE = 'usage: mezite-health HOST:PORT [SERVICE]\n  Asks the plaintext health listener (MEZITE_HEALTH_ADDR) for grpc.health.v1 status;\n  exit 0 when SERVING, 1 otherwise.\n';

/**
 * `bin/mezite-health HOST:PORT [SERVICE]`, for Docker's HEALTHCHECK (Kubernetes uses its
 * native `grpc:` probe on the same port): one Check on a plaintext channel, at most 3 s.
 * Exit 0 when SERVING, 1 for any other status or no answer (the reason on stderr), 2 on
 * a usage mistake. It loads only grpc-js and nice-grpc, so it starts fast.
 */
export async function runHealthProbe(argv: string[], out: { stdout(s: string): void; stderr(s: string): void }, timeoutMs = 3000): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    out.stdout(USAGE);
    return 0;
  }
  const [address, service = '', ...extra] = argv;
  if (!address || extra.length > 0 || !/^(\[[0-9a-fA-F:.]+\]|[^:\s/]+):\d{1,5}$/.test(address)) {
    out.stderr(USAGE);
    return 2;
  }
  const channel = createChannel(address, ChannelCredentials.createInsecure());
  try {
    const r = await createClient(HealthDefinition, channel).check({ service }, { signal: AbortSignal.timeout(timeoutMs) });
    const status = STATUS[r.status] ?? String(r.status);
    if (status === 'SERVING') {
      out.stdout(`${status}\n`);
      return 0;
    }
    out.stderr(`mezite-health: ${address}: ${status}\n`);
    return 1;
  } catch (err) {
    out.stderr(`mezite-health: ${address}: ${((err as { details?: string }).details ?? (err as Error).message).split('\n')[0]}\n`);
    return 1;
  } finally {
    channel.close();
  }
}
