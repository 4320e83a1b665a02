import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

/** The stack's own secrets, made once and kept (0600) in the data dir. */
export interface StackSecrets {
  /** Keys the stored hashes of bearer secrets in token-service (base64, 32 bytes). */
  token_pepper: string;
  /** Keys the stored hashes of session secrets in the auth-server. */
  session_pepper: string;
  /** Encrypts the SSH CA private keys at rest in ssh-ca. */
  ca_kek: string;
  /** Keys the auth-server's audit chain (HMAC-SHA256), outside the database. */
  audit_key: string;
  /** The Ed25519 seed that signs audit checkpoints, outside the database. */
  audit_signing_key: string;
  /** Password of the auth-server's PostgreSQL role `mezite_auth`. */
  auth_db_password: string;
  /** Password of token-service's role `mezite_token`. */
  token_db_password: string;
  /** Password of ssh-ca's role `mezite_sshca`. */
  sshca_db_password: string;
}

/**
 * Loads the data dir's `secrets.json`, creating it (or adding missing keys) with
 * CSPRNG values. Production passes these through its secret store instead.
 */
export function ensureSecrets(dataDir: string): StackSecrets {
  const path = join(dataDir, 'secrets.json');
  let cur: Partial<StackSecrets> = {};
  if (existsSync(path)) cur = JSON.parse(readFileSync(path, 'utf8')) as Partial<StackSecrets>;
  const gen = () => randomBytes(32).toString('base64');
  // Database passwords go into URLs: base64url needs no escaping.
  const password = () => randomBytes(24).toString('base64url');
  const next: StackSecrets = {
    ...cur,
    token_pepper: cur.token_pepper ?? gen(),
    session_pepper: cur.session_pepper ?? gen(),
    ca_kek: cur.ca_kek ?? gen(),
    audit_key: cur.audit_key ?? gen(),
    audit_signing_key: cur.audit_signing_key ?? gen(),
    auth_db_password: cur.auth_db_password ?? password(),
    token_db_password: cur.token_db_password ?? password(),
    sshca_db_password: cur.sshca_db_password ?? password(),
  };
  if (JSON.stringify(next) !== JSON.stringify(cur)) {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, path);
  }
  return next;
}
