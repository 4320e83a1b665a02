import { isIP } from 'node:net';
import { invalidArgument } from '@mezite/identity';

/** A `host:port` split into its parts; IPv6 hosts without their brackets. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses `--auth-server`: `host:port` or `[ipv6]:port`. A URL is refused with a hint,
 * since the gRPC port (3025) is not the HTTP one people paste from a browser.
 */
export function parseHostPort(address: string, what = '--auth-server'): HostPort {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(address)) throw invalidArgument(`${what}: "${address}" is a URL; give the gRPC address as host:port, e.g. mezite.example.com:3025`);
  const m = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || !Number.isInteger(port) || port < 1 || port > 65535) throw invalidArgument(`${what}: "${address}" is not host:port, e.g. mezite.example.com:3025`);
  if (m[1] !== undefined && isIP(host) !== 6) throw invalidArgument(`${what}: "${address}" has brackets around something that is not an IPv6 address`);
  return { host, port };
}
