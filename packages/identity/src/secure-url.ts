import { isIP } from 'node:net';

/**
 * True for a host name that can only mean this machine: `localhost` (and names under
 * `.localhost`, RFC 6761), 127.0.0.0/8 and ::1. Takes `URL.hostname` (IPv6 in brackets).
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.split('.')[0] === '127';
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/**
 * Checks that `raw` may carry secrets or trust: an `https:` URL, or `http:` on a
 * loopback host only (where nothing crosses a network). Returns the parsed URL; throws
 * an Error naming `what` otherwise.
 */
export function requireSecureUrl(raw: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`${what}: expected an https URL, got "${raw.slice(0, 200)}"`);
  }
  if (u.protocol === 'https:') return u;
  if (u.protocol === 'http:' && isLoopbackHost(u.hostname)) return u;
  throw new Error(`${what}: expected an https URL (http only on localhost, 127.0.0.0/8 or [::1]), got ${u.protocol}//${u.host}`);
}
