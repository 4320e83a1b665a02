import { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';

/** PEM material of one service's internal identity. */
export interface TlsMaterial {
  caCertPem: string;
  certPem: string;
  keyPem: string;
}

/**
 * Server credentials for internal ports: TLS with a client certificate required and
 * checked against the internal CA, so only Mezite's own services can call.
 */
export function internalServerCredentials(t: TlsMaterial): ServerCredentials {
  return ServerCredentials.createSsl(Buffer.from(t.caCertPem), [{ cert_chain: Buffer.from(t.certPem), private_key: Buffer.from(t.keyPem) }], true);
}

/** Channel credentials for calling an internal port: the internal CA and this service's client certificate. */
export function internalChannelCredentials(t: TlsMaterial): ChannelCredentials {
  return ChannelCredentials.createSsl(Buffer.from(t.caCertPem), Buffer.from(t.keyPem), Buffer.from(t.certPem));
}

/**
 * Server credentials for the public port (3025): TLS (Node's floor, TLS 1.2) without
 * client certificates; callers authenticate per call. The chain includes the CA so a
 * first-time client can pin it (`--ca-pin`).
 */
export function publicServerCredentials(t: TlsMaterial): ServerCredentials {
  const chain = t.certPem.trimEnd() + '\n' + t.caCertPem;
  return ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(chain), private_key: Buffer.from(t.keyPem) }], false);
}

/** Channel credentials for a client of the public port trusting `caCertPem`. */
export function publicChannelCredentials(caCertPem: string): ChannelCredentials {
  return ChannelCredentials.createSsl(Buffer.from(caCertPem));
}
