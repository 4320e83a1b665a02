/**
 * A service identity's OAuth2 client_credentials secret (seed 000: `issue-service`).
 * Only the keyed hash of the secret is stored.
 */
export interface ClientSecret {
  /** Unique across the cluster; what the machine presents with its secret. */
  clientId: string;
  tenantId: string;
  serviceIdentityId: string;
  /** HMAC-SHA256 of the secret under the server's pepper. */
  secretHash: Buffer;
  /** Id of the pepper `secretHash` is under (KeyRing); absent for a secret hashed before peppers had ids. */
  pepperId?: string;
  createdAt: Date;
}

/** Client ids: 1 to 128 letters, digits and `._:@-`, starting with a letter or digit (`svc-deployer`). */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
/** Bytes of a generated secret (256 bits), base64url encoded. */
export const CLIENT_SECRET_RANDOM_BYTES = 32;
/** Bounds on a secret given by the caller (demo fixtures): long enough not to be guessed, short enough to hash cheaply. */
export const MIN_CLIENT_SECRET_CHARS = 16;
export const MAX_CLIENT_SECRET_CHARS = 512;
