import type { ChannelCredentials } from '@grpc/grpc-js';
import { createChannel, createClient } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';

/**
 * The grpc.health.v1 status of `address`, or an error text when it cannot be asked.
 * `targetName` is the name to verify in the server's certificate (default: the host).
 */
export async function checkHealth(address: string, credentials: ChannelCredentials, timeoutMs = 1000, targetName?: string): Promise<string> {
  const channel = createChannel(address, credentials, targetName ? { 'grpc.ssl_target_name_override': targetName } : {});
  try {
    const client = createClient(HealthDefinition, channel);
    const r = await client.check({ service: '' }, { signal: AbortSignal.timeout(timeoutMs) });
    return r.status === 1 ? 'SERVING' : 'NOT_SERVING';
  } catch (err) {
    return (err as Error).message;
  } finally {
    channel.close();
  }
}

/** Polls until `address` reports SERVING; throws after `timeoutMs`, or early if `failed()` says the process died. */
export async function waitHealthy(address: string, credentials: ChannelCredentials, opts: { timeoutMs?: number; failed?: () => string | undefined; targetName?: string } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last = '';
  while (Date.now() < deadline) {
    const dead = opts.failed?.();
    if (dead !== undefined) throw new Error(dead);
    last = await checkHealth(address, credentials, 1000, opts.targetName);
    if (last === 'SERVING') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${address} did not become healthy: ${last}`);
}

/** Polls until `url` answers 200 (an HTTP service's readiness); same contract as waitHealthy. */
export async function waitHttpOk(url: string, opts: { timeoutMs?: number; failed?: () => string | undefined } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last = '';
  while (Date.now() < deadline) {
    const dead = opts.failed?.();
    if (dead !== undefined) throw new Error(dead);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer: ${last}`);
}
