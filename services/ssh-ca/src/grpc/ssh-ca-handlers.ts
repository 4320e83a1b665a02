import { invalidArgument, notFound } from '@mezite/identity';
import type { RequestContext } from '@mezite/platform';
import { sshcav1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { CaManager, CaStatus, RotationPhase } from '../domain/ca-manager';
import type { CertificateSigner } from '../domain/certificate-signer';
import type { CaState, CaType } from '../domain/cert-authority';
import type { IssuedCertificateStore } from '../domain/issued-certificate';
import { type KrlBuilder, parseSerial } from '../domain/krl-builder';

const { CertAuthorityType: T, CertAuthorityState: S, RotationPhase: P } = sshcav1;
const toProtoType = (t: CaType) => (t === 'user' ? T.CERT_AUTHORITY_TYPE_USER : T.CERT_AUTHORITY_TYPE_HOST);
const fromProtoType = (t: sshcav1.CertAuthorityType): CaType | undefined => (t === T.CERT_AUTHORITY_TYPE_USER ? 'user' : t === T.CERT_AUTHORITY_TYPE_HOST ? 'host' : undefined);
const STATES: Record<CaState, sshcav1.CertAuthorityState> = { next: S.CERT_AUTHORITY_STATE_NEXT, active: S.CERT_AUTHORITY_STATE_ACTIVE, previous: S.CERT_AUTHORITY_STATE_PREVIOUS, retired: S.CERT_AUTHORITY_STATE_RETIRED };
const PHASES = new Map<sshcav1.RotationPhase, RotationPhase>([
  [P.ROTATION_PHASE_INIT, 'init'],
  [P.ROTATION_PHASE_SWITCH, 'switch'],
  [P.ROTATION_PHASE_COMPLETE, 'complete'],
  [P.ROTATION_PHASE_ROLLBACK, 'rollback'],
]);

function toProto(ca: CaStatus): sshcav1.CertAuthority {
  return {
    id: ca.id,
    type: toProtoType(ca.type),
    publicKey: ca.publicKey,
    fingerprint: ca.fingerprint,
    createTime: ca.createdAt,
    state: STATES[ca.state],
    lastCertificateExpireTime: ca.lastCertificateExpiresAt ?? undefined,
  };
}

/** What the SshCaService handlers call. */
export interface SshCaHandlerDeps {
  cas: CaManager;
  signer: CertificateSigner;
  krl: KrlBuilder;
  issued: Pick<IssuedCertificateStore, 'findBySerial'>;
}

/**
 * Thin handlers for SshCaService. Callers are authenticated by mTLS on the internal
 * port; what a caller may get signed is decided by the auth-server before it calls.
 */
export function sshCaHandlers(deps: SshCaHandlerDeps): ServiceImplementation<typeof sshcav1.SshCaServiceDefinition, RequestContext> {
  const requireType = (t: sshcav1.CertAuthorityType) => {
    const type = fromProtoType(t);
    if (!type) throw invalidArgument('type must be CERT_AUTHORITY_TYPE_USER or CERT_AUTHORITY_TYPE_HOST');
    return type;
  };
  return {
    async listCertAuthorities(req) {
      return { certAuthorities: (await deps.cas.status(fromProtoType(req.type))).map(toProto) };
    },
    async signCertificate(req) {
      const type = requireType(req.type);
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
    async rotateCertAuthority(req, ctx) {
      const type = requireType(req.type);
      const phase = PHASES.get(req.phase);
      if (!phase) throw invalidArgument('phase must be INIT, SWITCH, COMPLETE or ROLLBACK');
      const cas = await deps.cas.rotate(type, phase, { force: req.force });
      deps.signer.invalidate(); // this replica signs with the new set at once; others within their refresh
      ctx.log.info('CA rotation phase done', { type, phase, force: req.force, cas: cas.map((c) => `${c.state}:${c.fingerprint}`) });
      return { certAuthorities: cas.map(toProto) };
    },
    async generateKrl(req) {
      const built = await deps.krl.build({ subjectIds: req.subjectIds, serials: req.serials });
      return { krl: built.krl, revokedCertificates: built.revokedCertificates, generateTime: built.generatedAt };
    },
    async getIssuedCertificate(req) {
      const c = await deps.issued.findBySerial(parseSerial(req.serial));
      if (!c) throw notFound(`no certificate with serial ${req.serial}`);
      const ca = (await deps.cas.listAll()).find((x) => x.id === c.caId);
      return {
        serial: c.serial.toString(),
        type: toProtoType(c.type),
        keyId: c.keyId,
        subjectId: c.subjectId ?? '',
        tenantId: c.tenantId ?? '',
        validBefore: c.validBefore,
        caFingerprint: ca?.fingerprint ?? '',
      };
    },
  };
}
