import { X509Certificate } from 'node:crypto';
import { ServerInterceptingCall, status, type ServerInterceptor } from '@grpc/grpc-js';

/** Health checks are answered for any caller with a certificate of the internal CA (probes, the stack). */
const HEALTH_PREFIX = '/grpc.health.v1.Health/';

/** The CN of the client certificate of a call, if it has one. */
export function peerCommonName(call: { getAuthContext?: () => { sslPeerCertificate?: { subject?: Record<string, unknown>; raw?: Buffer } } | undefined }): string | undefined {
  const peer = call.getAuthContext?.()?.sslPeerCertificate;
  if (!peer) return undefined;
  const cn = peer.subject?.CN;
  if (typeof cn === 'string') return cn;
  if (!peer.raw) return undefined;
  // Fall back to the certificate itself (the subject as Node parsed it may be empty).
  const m = /(?:^|\n)CN=([^\n]+)/.exec(new X509Certificate(peer.raw).subject);
  return m?.[1];
}

/**
 * A grpc-js server interceptor for the internal (mTLS) ports: the TLS layer has already
 * checked that the client certificate is signed by the internal CA; this checks *which*
 * service it names (the leaf's CN), so a compromised token-service cannot ask ssh-ca to
 * sign certificates. Any other caller gets PERMISSION_DENIED before its request is
 * read. Health checks stay open to every internal certificate.
 */
export function requireCallers(allowed: readonly string[]): ServerInterceptor {
  const ok = new Set(allowed);
  return (method, call) => {
    const cn = peerCommonName(call as unknown as Parameters<typeof peerCommonName>[0]);
    if (method.path.startsWith(HEALTH_PREFIX) || (cn !== undefined && ok.has(cn))) return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: () => {
            call.sendStatus({ code: status.PERMISSION_DENIED, details: `caller ${cn ?? '(no client certificate)'} may not call ${method.path}; only ${[...ok].join(', ')} may` });
          },
          onReceiveMessage: () => undefined,
          onReceiveHalfClose: () => undefined,
        });
      },
    });
  };
}
