import type { MeziteCallOptions } from '@mezite/platform';
import { sshcav1 } from '@mezite/proto';
import type { Client } from 'nice-grpc';
import type { CaInfo, CertAuthorityClient, SignedCert } from '../domain/cert-authority-client';

const { CertAuthorityType: T, CertAuthorityState: S, RotationPhase: P } = sshcav1;
const toType = (t: 'user' | 'host' | undefined) => (t === 'user' ? T.CERT_AUTHORITY_TYPE_USER : t === 'host' ? T.CERT_AUTHORITY_TYPE_HOST : T.CERT_AUTHORITY_TYPE_UNSPECIFIED);
const PHASES = { init: P.ROTATION_PHASE_INIT, switch: P.ROTATION_PHASE_SWITCH, complete: P.ROTATION_PHASE_COMPLETE, rollback: P.ROTATION_PHASE_ROLLBACK } as const;

function toInfo(c: sshcav1.CertAuthority): CaInfo {
  return {
    type: c.type === T.CERT_AUTHORITY_TYPE_USER ? 'user' : 'host',
    publicKey: c.publicKey,
    fingerprint: c.fingerprint,
    state: c.state === S.CERT_AUTHORITY_STATE_NEXT ? 'next' : c.state === S.CERT_AUTHORITY_STATE_PREVIOUS ? 'previous' : 'active',
    createdAt: c.createTime ?? new Date(0),
    lastCertificateExpiresAt: c.lastCertificateExpireTime ?? null,
  };
}

const CACHE_MS = 5000;
/** RotateCertAuthority's deadline: longer than the default, see `rotate`. */
const ROTATE_DEADLINE_MS = 20_000;

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

  async status(type?: 'user' | 'host'): Promise<CaInfo[]> {
    const r = await this.client.listCertAuthorities({ type: toType(type) });
    return r.certAuthorities.map(toInfo);
  }

  async rotate(type: 'user' | 'host', phase: 'init' | 'switch' | 'complete' | 'rollback', force: boolean, requestId?: string): Promise<CaInfo[]> {
    // `complete` may wait up to ssh-ca's CA refresh interval and a second (ca-manager.ts).
    const r = await this.client.rotateCertAuthority({ type: toType(type), phase: PHASES[phase], force }, { deadline: ROTATE_DEADLINE_MS, ...(requestId ? { requestId } : {}) });
    this.cache.clear(); // this replica sees the new trust set at once; others within CACHE_MS
    return r.certAuthorities.map(toInfo);
  }

  async generateKrl(input: { subjectIds: string[]; serials: string[] }): Promise<{ krl: Buffer; generatedAt: Date; revokedCertificates: number }> {
    const r = await this.client.generateKrl(input);
    return { krl: Buffer.from(r.krl), generatedAt: r.generateTime ?? new Date(), revokedCertificates: Number(r.revokedCertificates) };
  }

  async issuedCertificate(serial: string): Promise<{ serial: string; tenantId: string; subjectId: string; keyId: string; validBefore: Date }> {
    const r = await this.client.getIssuedCertificate({ serial });
    return { serial: r.serial, tenantId: r.tenantId, subjectId: r.subjectId, keyId: r.keyId, validBefore: r.validBefore ?? new Date() };
  }
}
