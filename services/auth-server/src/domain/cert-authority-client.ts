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
}
