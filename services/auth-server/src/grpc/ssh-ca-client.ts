import type { MeziteCallOptions } from '@mezite/platform';
import { sshcav1 } from '@mezite/proto';
import type { Client } from 'nice-grpc';
import type { CertAuthorityClient, SignedCert } from '../domain/cert-authority-client';

const CACHE_MS = 5000;

/**
 * CertAuthorityClient over ssh-ca's gRPC API. CA public keys are cached for a few
 * seconds: they are read on every join and renewal, and change only on CA rotation.
 */
export class GrpcCertAuthorityClient implements CertAuthorityClient {
  private cache = new Map<string, { at: number; keys: Promise<string[]> }>();

  constructor(private readonly client: Client<typeof sshcav1.SshCaServiceDefinition, MeziteCallOptions>) {}

  async sign(input: Parameters<CertAuthorityClient['sign']>[0]): Promise<SignedCert> {
    const r = await this.client.signCertificate(
      {
        type: input.type === 'user' ? sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_USER : sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_HOST,
        publicKey: input.publicKey,
        keyId: input.keyId,
        principals: input.principals,
        ttlSeconds: Math.round(input.ttlMs / 1000),
        extensions: input.extensions ?? {},
        criticalOptions: {},
        subjectId: input.subjectId ?? '',
        tenantId: input.tenantId,
      },
      input.requestId ? { requestId: input.requestId } : {},
    );
    if (!r.validAfter || !r.validBefore) throw new Error('ssh-ca returned a certificate without validity');
    return { certificate: r.certificate, serial: r.serial, validAfter: r.validAfter, validBefore: r.validBefore };
  }

  publicKeys(type: 'user' | 'host'): Promise<string[]> {
    const hit = this.cache.get(type);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.keys;
    const keys = this.client
      .listCertAuthorities({ type: type === 'user' ? sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_USER : sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_HOST })
      .then((r) => r.certAuthorities.map((c) => c.publicKey));
    keys.catch(() => this.cache.delete(type));
    this.cache.set(type, { at: Date.now(), keys });
    return keys;
  }
}
