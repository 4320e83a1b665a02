import { readFileSync } from 'node:fs';
import type { StackStatus, TestStack } from '../harness/test-stack';

/** The three services every check below looks at. */
export const SERVICES = ['auth-server', 'token-service', 'ssh-ca'] as const;
export type ServiceName = (typeof SERVICES)[number];

/**
 * What an answer to a caller must never contain: a JavaScript stack frame, a Node
 * error class name with its text, a file path of ours, or a database/driver message.
 * Matched against every status message and HTTP body the hostile-input tests receive.
 */
export const LEAK = /\n\s+at |at .+\.(?:js|ts):\d+|\/work\/|node_modules|dist\/|TypeError|RangeError|SyntaxError|ReferenceError|Prisma|invalid byte sequence|SQLSTATE|Maximum call stack|ECONN|EPIPE/;

/** The pid of each service as stack.json names it. */
export function servicePids(stack: TestStack): Record<ServiceName, number> {
  const s: StackStatus = stack.status();
  const out = {} as Record<ServiceName, number>;
  for (const name of SERVICES) {
    const pid = s.services[name]?.pid;
    if (!pid) throw new Error(`stack.json names no pid for ${name}`);
    out[name] = pid;
  }
  return out;
}

/** True while a process with this pid exists (signal 0 checks without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resident set size of a process in KiB, from /proc (Linux only). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** The auth-server's HTTP health endpoint. */
export async function httpHealthy(stack: TestStack): Promise<boolean> {
  const res = await fetch(`${stack.httpUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { status?: string };
  return res.status === 200 && body.status === 'SERVING';
}
