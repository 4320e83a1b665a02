/** A certificate ssh-ca signed. */
export interface SignedCert {
  certificate: string;
  serial: string;
  validAfter: Date;
  validBefore: Date;
}

/**
 * What the auth-server needs from ssh-ca. The domain sees this interface; the gRPC
 * adapter lives in `grpc/`.
 */
export interface CertAuthorityClient {
  sign(input: {
    type: 'user' | 'host';
    publicKey: string;
    keyId: string;
    principals: string[];
    ttlMs: number;
    extensions?: Record<string, string>;
    tenantId: string;
    subjectId?: string;
    requestId?: string;
  }): Promise<SignedCert>;
  /** Trusted CA public keys of a type (authorized_keys format), oldest first. */
  publicKeys(type: 'user' | 'host'): Promise<string[]>;
  /** The trusted CAs with their rotation state. */
  status(type?: 'user' | 'host'): Promise<CaInfo[]>;
  /** Runs one rotation phase; returns the CAs of the type after it. */
  rotate(type: 'user' | 'host', phase: 'init' | 'switch' | 'complete' | 'rollback', force: boolean, requestId?: string): Promise<CaInfo[]>;
  /** Renders the KRL of the unexpired certificates of these subjects and serials. */
  generateKrl(input: { subjectIds: string[]; serials: string[] }): Promise<{ krl: Buffer; generatedAt: Date; revokedCertificates: number }>;
  /** The log entry of one certificate; NotFound when ssh-ca never signed it. */
  issuedCertificate(serial: string): Promise<{ serial: string; tenantId: string; subjectId: string; keyId: string; validBefore: Date }>;
}

/** A trusted CA and its place in a rotation. */
export interface CaInfo {
  type: 'user' | 'host';
  publicKey: string;
  fingerprint: string;
  state: 'next' | 'active' | 'previous';
  createdAt: Date;
  lastCertificateExpiresAt: Date | null;
}
