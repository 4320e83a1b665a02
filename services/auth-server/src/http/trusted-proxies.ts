import { BlockList, isIP } from 'node:net';

/**
 * The proxies whose `X-Forwarded-For` the auth-server believes (MEZITE_TRUSTED_PROXIES:
 * addresses and CIDR ranges, IPv4 and IPv6). Behind an Ingress every HTTP client
 * arrives from the controller's address; with the controller trusted, the failure
 * limiter and the audit log see the client's own address instead.
 *
 * The client is the rightmost `X-Forwarded-For` entry that is not a trusted proxy
 * (what each trusted hop appended), never the leftmost (which the client writes itself).
 * A peer that is not trusted is the client, whatever headers it sends; an entry that is
 * not an address ends the walk at the last trusted hop.
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  /** Entries configured; 0: no proxy is trusted and the header is never read. */
  readonly size: number;

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const e = raw.trim();
      const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(e);
      const family = m ? isIP(m[1] as string) : 0;
      if (!m || family === 0) throw new Error(`not an IP address or CIDR range: "${raw}"`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (m[2] === undefined) {
        this.list.addAddress(m[1] as string, type);
        continue;
      }
      const prefix = Number(m[2]);
      if (prefix > (family === 4 ? 32 : 128)) throw new Error(`prefix length out of range: "${raw}"`);
      this.list.addSubnet(m[1] as string, prefix, type);
    }
    this.size = entries.length;
  }

  /** Whether `address` (as a socket reports it, IPv4-mapped IPv6 included) is a trusted proxy. */
  trusts(address: string | undefined): boolean {
    const a = address === undefined ? undefined : plain(address);
    if (!a) return false;
    return this.list.check(a, isIP(a) === 4 ? 'ipv4' : 'ipv6');
  }

  /** The client's address for a request from `peer` carrying `forwardedFor` (the header's value(s)). */
  clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined): string | undefined {
    const direct = peer === undefined ? undefined : (plain(peer) ?? peer);
    if (this.size === 0 || !this.trusts(direct) || forwardedFor === undefined) return direct;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let client = direct;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = plain(hops[i] as string);
      if (!hop) return client;
      client = hop;
      if (!this.trusts(hop)) return hop;
    }
    return client;
  }
}

/** An address without port, brackets or the IPv4-mapped prefix; undefined when it is not one. */
function plain(raw: string): string | undefined {
  let a = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1] as string;
  else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  if (/^::ffff:\d{1,3}(?:\.\d{1,3}){3}$/i.test(a)) a = a.slice(7);
  return isIP(a) ? a : undefined;
}
