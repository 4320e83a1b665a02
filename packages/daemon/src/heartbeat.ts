import { readFileSync } from 'node:fs';
import { arch, hostname, platform, release } from 'node:os';
import { join } from 'node:path';

/** How the latest write to one destination went, as the heartbeat reports it. */
export interface DestinationHealth {
  /** The destination's description (a directory or a `kubernetes-secret://` URL). */
  destination: string;
  healthy: boolean;
  /** The latest write's failure, at most {@link MAX_HEALTH_ERROR_LENGTH} characters; empty when healthy. */
  error: string;
  /** When the destination was last written successfully; absent if never (in this process). */
  updateTime?: Date;
}

/**
 * What mezd says of itself with every join and renewal, so an admin sees which
 * machine an instance is, what runs there and whether its certificates reach their
 * destinations (`mezctl bots instances`). Never a secret: no token, key or path of one.
 */
export interface BotHeartbeat {
  version: string;
  hostname: string;
  /** `${platform} ${release} ${arch}`, e.g. `linux 6.8.0-45-generic x64`. */
  os: string;
  /** The daemon's renewal interval in seconds; 0 with --one-shot. */
  renewalIntervalSeconds: number;
  oneShot: boolean;
  destinations: DestinationHealth[];
}

/** The proto's bound on DestinationHealth.error. */
export const MAX_HEALTH_ERROR_LENGTH = 200;

let version: string | undefined;

/**
 * mezd's version: `@mezite/daemon`'s package.json, read once. `src/` and `dist/` both sit
 * one level below the package root, and the image ships package.json next to dist/.
 * Read as a file rather than imported so nothing else of it stays in memory.
 */
export function mezdVersion(): string {
  if (version === undefined) {
    try {
      const v = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version?: unknown }).version;
      version = typeof v === 'string' && v !== '' ? v : 'unknown';
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

/** The machine part of a heartbeat; cheap (no module beyond node:os), so computed per request. */
export function machineHeartbeat(o: { renewalIntervalMs: number; oneShot: boolean }): Omit<BotHeartbeat, 'destinations'> {
  return {
    version: mezdVersion(),
    hostname: hostname(),
    os: `${platform()} ${release()} ${arch()}`,
    renewalIntervalSeconds: o.oneShot ? 0 : Math.round(o.renewalIntervalMs / 1000),
    oneShot: o.oneShot,
  };
}

/** Cuts `s` to `max` UTF-16 units without leaving half a surrogate pair (not valid UTF-8 on the wire). */
export function cutText(s: string, max = MAX_HEALTH_ERROR_LENGTH): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/**
 * The health of each destination after its latest write, in the order first written.
 * A destination never written in this process is not reported (a one-shot run reports
 * none: its only write comes after its only request).
 */
export class DestinationHealthLog {
  private readonly byDestination = new Map<string, DestinationHealth>();

  written(destination: string, at: Date): void {
    this.byDestination.set(destination, { destination, healthy: true, error: '', updateTime: at });
  }

  failed(destination: string, err: unknown): void {
    const prev = this.byDestination.get(destination)?.updateTime;
    const message = err instanceof Error ? err.message : String(err);
    this.byDestination.set(destination, { destination, healthy: false, error: cutText(message), ...(prev ? { updateTime: prev } : {}) });
  }

  list(): DestinationHealth[] {
    return [...this.byDestination.values()].map((h) => ({ ...h }));
  }
}
