import type { RequestContext } from '@mezite/platform';
import { sshcav1 } from '@mezite/proto';
import { ServerError, Status, type ServiceImplementation } from 'nice-grpc';
import type { CaManager } from '../domain/ca-manager';
import type { CaType, CertAuthority } from '../domain/cert-authority';

const toProtoType = (t: CaType) => (t === 'user' ? sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_USER : sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_HOST);
const fromProtoType = (t: sshcav1.CertAuthorityType): CaType | undefined =>
  t === sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_USER ? 'user' : t === sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_HOST ? 'host' : undefined;

function toProto(ca: CertAuthority): sshcav1.CertAuthority {
  return { id: ca.id, type: toProtoType(ca.type), publicKey: ca.publicKey, fingerprint: ca.fingerprint, createTime: ca.createdAt };
}

/** Thin handlers for SshCaService. */
export function sshCaHandlers(cas: CaManager): ServiceImplementation<typeof sshcav1.SshCaServiceDefinition, RequestContext> {
  return {
    async listCertAuthorities(req) {
      return { certAuthorities: (await cas.list(fromProtoType(req.type))).map(toProto) };
    },
    async signCertificate() {
      throw new ServerError(Status.UNIMPLEMENTED, 'SignCertificate is not implemented yet');
    },
  };
}
