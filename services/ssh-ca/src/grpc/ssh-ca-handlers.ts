import { invalidArgument } from '@mezite/identity';
import type { RequestContext } from '@mezite/platform';
import { sshcav1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { CaManager } from '../domain/ca-manager';
import type { CertificateSigner } from '../domain/certificate-signer';
import type { CaType, CertAuthority } from '../domain/cert-authority';

const toProtoType = (t: CaType) => (t === 'user' ? sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_USER : sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_HOST);
const fromProtoType = (t: sshcav1.CertAuthorityType): CaType | undefined =>
  t === sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_USER ? 'user' : t === sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_HOST ? 'host' : undefined;

function toProto(ca: CertAuthority): sshcav1.CertAuthority {
  return { id: ca.id, type: toProtoType(ca.type), publicKey: ca.publicKey, fingerprint: ca.fingerprint, createTime: ca.createdAt };
}

/** What the SshCaService handlers call. */
export interface SshCaHandlerDeps {
  cas: CaManager;
  signer: CertificateSigner;
}

/**
 * Thin handlers for SshCaService. Callers are authenticated by mTLS on the internal
 * port; what a caller may get signed is decided by the auth-server before it calls.
 */
export function sshCaHandlers(deps: SshCaHandlerDeps): ServiceImplementation<typeof sshcav1.SshCaServiceDefinition, RequestContext> {
  return {
    async listCertAuthorities(req) {
      return { certAuthorities: (await deps.cas.list(fromProtoType(req.type))).map(toProto) };
    },
    async signCertificate(req) {
      const type = fromProtoType(req.type);
      if (!type) throw invalidArgument('type must be CERT_AUTHORITY_TYPE_USER or CERT_AUTHORITY_TYPE_HOST');
      const signed = await deps.signer.sign({
        type,
        publicKey: req.publicKey,
        keyId: req.keyId,
        principals: req.principals,
        ttlSeconds: req.ttlSeconds,
        extensions: req.extensions,
        criticalOptions: req.criticalOptions,
        subjectId: req.subjectId,
        tenantId: req.tenantId,
      });
      return {
        certificate: signed.certificate,
        serial: signed.serial.toString(),
        validAfter: signed.validAfter,
        validBefore: signed.validBefore,
        caFingerprint: signed.caFingerprint,
      };
    },
  };
}
