import { formatIdentityRef, invalidArgument, notFound } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { AuditLog } from '../domain/audit';
import { audited } from '../domain/audited-action';
import { requireAdmin, requireClusterAdmin } from '../domain/authz';
import type { CaInfo, CertAuthorityClient } from '../domain/cert-authority-client';
import type { RevocationList } from '../domain/revocation';
import type { AuthContext } from './auth-middleware';

const HOST_TTL_MAX_MS = 366 * 24 * 3600_000;
const PHASES = new Set(['init', 'switch', 'complete', 'rollback']);

const caType = (t: string, flag = '--type') => {
  if (t !== 'user' && t !== 'host') throw invalidArgument(`${flag} must be user or host`);
  return t;
};

function infoToProto(c: CaInfo): authv1.CertAuthorityInfo {
  return { type: c.type, publicKey: c.publicKey, fingerprint: c.fingerprint, state: c.state, createTime: c.createdAt, lastCertificateExpireTime: c.lastCertificateExpiresAt ?? undefined };
}

/**
 * Handlers for CertAuthorityService: public CA keys and the KRL for anyone (nodes poll
 * them), listing and revocation (its own certificates) for a tenant's admins. The CAs are
 * shared by every tenant, so rotating one and signing host certificates with it (any
 * principals: a host of any tenant) are for cluster admins only (`clusterTenantId`
 * resolves the default tenant's id).
 */
export function caHandlers(ca: CertAuthorityClient, audit: AuditLog, krl: RevocationList, clusterTenantId: () => Promise<string>): ServiceImplementation<typeof authv1.CertAuthorityServiceDefinition, AuthContext> {
  return {
    async exportCertAuthorities(req) {
      return { publicKeys: await ca.publicKeys(caType(req.type)) };
    },
    async signHostCertificate(req, ctx) {
      const caller = requireClusterAdmin(ctx.principal, await clusterTenantId(), 'sign host certificates');
      if (req.principals.length === 0) throw invalidArgument('--principals: at least one host name or address is required');
      const ttlMs = req.ttlSeconds * 1000;
      if (ttlMs < 60_000 || ttlMs > HOST_TTL_MAX_MS) throw invalidArgument('--ttl must be between 1m and 366d');
      const signed = await audited(
        { audit, log: ctx.log },
        { tenantId: caller.tenantId, type: 'ca.sign_host', actor: formatIdentityRef(caller), target: `host:${req.principals.join(',')}`, requestId: ctx.requestId, details: {} },
        () => ca.sign({ type: 'host', publicKey: req.publicKey, keyId: `host:${req.principals[0]}`, principals: req.principals, ttlMs, tenantId: caller.tenantId, requestId: ctx.requestId }),
        (s) => ({ details: { serial: s.serial } }),
      );
      return { certificate: signed.certificate, expireTime: signed.validBefore };
    },
    async listCertAuthorities(req, ctx) {
      requireAdmin(ctx.principal, 'list certificate authorities');
      const type = req.type === '' ? undefined : caType(req.type);
      return { certAuthorities: (await ca.status(type)).map(infoToProto) };
    },
    async rotateCertAuthority(req, ctx) {
      const caller = requireClusterAdmin(ctx.principal, await clusterTenantId(), 'rotate certificate authorities');
      const type = caType(req.type);
      if (req.phase !== '' && !PHASES.has(req.phase)) throw invalidArgument('--phase must be init, switch, complete or rollback');
      const phase = (req.phase || nextPhase(await ca.status(type))) as 'init' | 'switch' | 'complete' | 'rollback';
      const cas = await audited(
        { audit, log: ctx.log },
        { tenantId: caller.tenantId, type: 'ca.rotate', actor: formatIdentityRef(caller), target: `ca:${type}`, requestId: ctx.requestId, details: { phase, force: String(req.force) } },
        () => ca.rotate(type, phase, req.force, ctx.requestId),
      );
      return { phase, certAuthorities: cas.map(infoToProto) };
    },
    async getRevocationList() {
      const r = await krl.current();
      return { krl: r.krl, generateTime: r.generatedAt, revokedCertificates: r.revokedCertificates };
    },
    async revokeCertificate(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'revoke certificates');
      if (!/^[0-9]{1,20}$/.test(req.serial)) throw invalidArgument('serial must be the decimal serial ssh-keygen -L prints');
      if (req.reason.length > 500) throw invalidArgument('--reason is longer than 500 characters');
      const cert = await ca.issuedCertificate(req.serial);
      // Another tenant's certificate is NotFound, exactly like one that does not exist.
      if (cert.tenantId !== caller.tenantId) throw notFound(`no certificate with serial ${req.serial}`);
      await audited(
        { audit, log: ctx.log },
        { tenantId: caller.tenantId, type: 'ca.revoke', actor: formatIdentityRef(caller), target: `cert:${req.serial}`, requestId: ctx.requestId, details: { key_id: cert.keyId, reason: req.reason } },
        () => krl.revokeSerial(caller.tenantId, req.serial, req.reason || 'revoked by an admin', cert.validBefore),
      );
      return {};
    },
  };
}

/** init when nothing is in progress, switch after init, complete after switch. */
function nextPhase(cas: CaInfo[]): string {
  if (cas.some((c) => c.state === 'next')) return 'switch';
  if (cas.some((c) => c.state === 'previous')) return 'complete';
  return 'init';
}
