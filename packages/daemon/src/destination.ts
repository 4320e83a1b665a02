import { type ErrorCode, MeziteError } from '@mezite/identity';
import type { BotIdentity } from './bot-identity';

/**
 * Where the daemon delivers an identity for other tools to use (STYLE.md §6): a
 * directory or a Kubernetes Secret. A destination is written only after the
 * new identity was saved in the data dir, and a write that fails leaves what it had not
 * yet replaced as it was.
 */
export interface Destination {
  /** For logs, e.g. `directory:/var/lib/mezite/identity/certs`. */
  readonly description: string;
  /** Delivers `identity`, replacing the previous one. */
  write(identity: BotIdentity): Promise<void>;
}

/**
 * A destination's own failure, not the auth server's (a Kubernetes API server refusing
 * the write, say): its code decides what the renewal loop does, as for the server
 * (Unavailable is retried like an outage), and `destination` keeps the log line from
 * blaming the auth server.
 */
export class DestinationError extends MeziteError {
  constructor(
    code: ErrorCode,
    message: string,
    /** The destination's description. */
    readonly destination: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** One artifact of an identity, as OpenSSH reads it. */
export interface IdentityArtifact {
  name: string;
  data: string;
  mode: number;
}

/** The private key file: readable by its owner only (ssh refuses it otherwise). */
export const SSH_KEY = 'ssh_key';
/** The certificate, next to the key under the name ssh looks for (`<key>-cert.pub`). */
export const SSH_CERT = 'ssh_key-cert.pub';
/** `@cert-authority` lines for the Host CAs, for `UserKnownHostsFile`. */
export const KNOWN_HOSTS = 'known_hosts';
/** Which auth server (address and CA, both public) issued a directory's certificate, for `msh`. */
export const DESTINATION_RECORD = 'mezite-auth.json';

/**
 * The artifacts of an identity in the order they are replaced: known_hosts first, then
 * the key, then its certificate, so the pair is mismatched for no longer than between
 * the last two renames. The key is SEC1 PEM (`BEGIN EC PRIVATE KEY`), which every
 * OpenSSH built with OpenSSL reads.
 */
export function identityArtifacts(identity: BotIdentity): IdentityArtifact[] {
  const knownHosts = identity.hostCertAuthorities.map((ca) => `@cert-authority * ${ca}\n`).join('');
  return [
    { name: KNOWN_HOSTS, data: knownHosts, mode: 0o644 },
    { name: SSH_KEY, data: identity.privateKey.export({ type: 'sec1', format: 'pem' }) as string, mode: 0o600 },
    { name: SSH_CERT, data: `${identity.certificate}\n`, mode: 0o644 },
  ];
}
