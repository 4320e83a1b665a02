/**
 * OpenSSH keys and certificates, encoded directly (RFC 4251/4253/5656/8709,
 * PROTOCOL.certkeys) and signed with Node's crypto: fast enough to sign per request,
 * and accepted by stock OpenSSH. sshpk is only a test-time cross-check.
 */
export { type CaAlgorithm, type CaKeyPair, exportCaPrivateKey, generateCaKey, importCaPrivateKey } from './ca-key';
export {
  CERT_TYPE_SUFFIX,
  type CertificateAuthoritySigner,
  type CertificateType,
  type CertOptions,
  MAX_PRINCIPALS,
  parseCertificate,
  type SignCertificateOptions,
  type SignedCertificate,
  signCertificate,
  type SshCertificate,
  verifyCertificateSignature,
} from './certificate';
export {
  encodePublicKey,
  fingerprintSha256,
  formatPublicKey,
  isSshKeyType,
  parsePublicKey,
  parsePublicKeyBlob,
  type SshKeyType,
  type SshPublicKey,
} from './public-key';
export { sshSigner, verifySshSignature, type SshSigner } from './ssh-signature';
export { botCertificateClaims, botRenewalProof, CLAIMS_EXTENSION, type BotCertificateClaims } from './bot-claims';
export { botRenewalSignedData, renewalSignedData, signBotRenewal, signRenewal, verifyBotRenewal, verifyRenewal, type BotRenewalProof } from './renewal-proof';
export { CERT_AUTH_SCHEME, certAuthSignedData, makeCertAuthCredential, parseCertAuthCredential, verifyCertAuth } from './cert-auth';
export {
  encodeKrl,
  isCertificateRevoked,
  isKeyRevoked,
  type KrlCertificateRef,
  type KrlCertificateRevocations,
  type KrlInput,
  type KrlSerialRange,
  MAX_KRL_BYTES,
  type ParsedKrl,
  type ParsedKrlCertificates,
  parseKrl,
} from './krl';
export { parsePrivateKey } from './private-key';
export {
  BOUND_KEYPAIR_CREDENTIAL_PREFIX,
  boundKeypairSignedData,
  makeBoundKeypairCredential,
  parseBoundKeypairCredential,
  verifyBoundKeypairStatement,
  type BoundKeypairProof,
  type BoundKeypairStatement,
} from './bound-keypair-proof';
