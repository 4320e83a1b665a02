import { formatIdentityRef, invalidArgument } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { AuditLog } from '../domain/audit';
import { requireAdmin } from '../domain/authz';
import type { CertAuthorityClient } from '../domain/cert-authority-client';
import type { AuthContext } from './auth-middleware';

const HOST_TTL_MAX_MS = 366 * 24 * 3600_000;

/** Handlers for CertAuthorityService: public CA keys for anyone, host signing for admins. */
export function caHandlers(ca: CertAuthorityClient, audit: AuditLog): ServiceImplementation<typeof authv1.CertAuthorityServiceDefinition, AuthContext> {
  return {
    async exportCertAuthorities(req) {
      if (req.type !== 'user' && req.type !== 'host') throw invalidArgument('--type must be user or host');
      return { publicKeys: await ca.publicKeys(req.type) };
    },
    async signHostCertificate(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'sign host certificates');
      if (req.principals.length === 0) throw invalidArgument('--principals: at least one host name or address is required');
      const ttlMs = req.ttlSeconds * 1000;
      if (ttlMs < 60_000 || ttlMs > HOST_TTL_MAX_MS) throw invalidArgument('--ttl must be between 1m and 366d');
      const signed = await ca.sign({ type: 'host', publicKey: req.publicKey, keyId: `host:${req.principals[0]}`, principals: req.principals, ttlMs, tenantId: caller.tenantId, requestId: ctx.requestId });
      await audit.record({ tenantId: caller.tenantId, type: 'ca.sign_host', actor: formatIdentityRef(caller), target: `host:${req.principals.join(',')}`, result: 'success', requestId: ctx.requestId, details: { serial: signed.serial } });
      return { certificate: signed.certificate, expireTime: signed.validBefore };
    },
  };
}
