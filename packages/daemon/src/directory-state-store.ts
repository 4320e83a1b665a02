import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { failedPrecondition } from '@mezite/identity';
import { spkiPin } from '@mezite/platform/client';
import { encodePublicKey, parseCertificate, botCertificateClaims } from '@mezite/ssh';
import { writeFileAtomic } from './atomic-file';
import type { BotIdentity } from './bot-identity';
import type { IdentityState, IdentityStateStore, PendingKey } from './identity-state';

/** The state file inside the data dir. */
export const STATE_FILE = 'identity.json';

/** A pending key as saved: what it is for, and its private half (PKCS#8 PEM). */
type PendingFileV1 =
  | { for: 'join'; join_token_sha256: string; private_key: string }
  | { for: 'renew'; certificate_serial: string; private_key: string };

/**
 * The state file's JSON: snake_case, versioned, readable with `jq` by an operator.
 * The identity's fields are absent only before the first join succeeded (then
 * `pending` is a join). `instance_id`, `join_token_sha256` and `pending` were added
 * later in version 1: a file without them loads (a renewal then takes the instance
 * from the certificate), and an older mezd reading a file with them ignores them.
 */
interface StateFileV1 {
  version: 1;
  auth_server: string;
  ca_cert?: string;
  /** Informational: what `--ca-pin` would be for this CA. */
  ca_pin?: string;
  bot_name?: string;
  instance_id?: string;
  generation?: number;
  certificate?: string;
  /** PKCS#8 PEM, unencrypted: the file is 0600 in a 0700 directory. */
  private_key?: string;
  principals?: string[];
  host_cert_authorities?: string[];
  user_cert_authorities?: string[];
  /** SHA-256 hex of the join token the identity was obtained with. */
  join_token_sha256?: string;
  pending?: PendingFileV1;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Keeps the state in `<dataDir>/identity.json` (0600; the directory is created 0700).
 * One file, replaced atomically, so a crash at any moment leaves either the previous
 * complete state or the new one.
 */
export class DirectoryStateStore implements IdentityStateStore {
  readonly description: string;
  private readonly dir: string;
  private readonly path: string;

  constructor(dataDir: string) {
    if (!dataDir) throw new Error('DirectoryStateStore: dataDir is required');
    this.dir = resolve(dataDir);
    this.path = join(this.dir, STATE_FILE);
    this.description = this.path;
  }

  async load(): Promise<IdentityState | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw failedPrecondition(`cannot read ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    try {
      return decode(JSON.parse(text) as Partial<StateFileV1>);
    } catch (err) {
      throw failedPrecondition(`${this.path} is not a valid mezd identity state (${(err as Error).message}); remove it to join again with a new --join-token`, { cause: err });
    }
  }

  async save(state: IdentityState): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path, JSON.stringify(encode(state), null, 2) + '\n', 0o600);
  }
}

const pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;

function encode(state: IdentityState): StateFileV1 {
  const id = state.identity;
  if (id && !state.caCertPem) throw new Error('DirectoryStateStore: an identity is saved with its CA');
  if (!id && !state.pending) throw new Error('DirectoryStateStore: nothing to save (no identity, no pending key)');
  const p = state.pending;
  return {
    version: 1,
    auth_server: state.authServer,
    ...(id && state.caCertPem
      ? {
          ca_cert: state.caCertPem,
          ca_pin: spkiPin(state.caCertPem),
          bot_name: id.botName,
          instance_id: id.instanceId,
          generation: id.generation,
          certificate: id.certificate,
          private_key: pem(id.privateKey),
          principals: id.principals,
          host_cert_authorities: id.hostCertAuthorities,
          user_cert_authorities: id.userCertAuthorities,
        }
      : {}),
    ...(state.joinTokenHash ? { join_token_sha256: state.joinTokenHash } : {}),
    ...(p
      ? {
          pending: p.kind === 'join'
            ? { for: 'join' as const, join_token_sha256: p.joinTokenHash, private_key: pem(p.privateKey) }
            : { for: 'renew' as const, certificate_serial: p.serial, private_key: pem(p.privateKey) },
        }
      : {}),
  };
}

function decode(f: Partial<StateFileV1>): IdentityState {
  if (f.version !== 1) throw new Error(`unsupported version ${JSON.stringify(f.version)}`);
  if (typeof f.auth_server !== 'string' || f.auth_server === '') throw new Error('auth_server is missing');
  // Only a state saved before the first join succeeded has no identity, and it has a pending join.
  const hasIdentity = f.certificate !== undefined || f.pending === undefined || (f.pending as { for?: unknown }).for !== 'join';
  const identity = hasIdentity ? decodeIdentity(f) : undefined;
  if (f.join_token_sha256 !== undefined && (typeof f.join_token_sha256 !== 'string' || !SHA256_HEX.test(f.join_token_sha256))) throw new Error('join_token_sha256 is not a SHA-256 hex digest');
  const pending = f.pending === undefined ? undefined : decodePending(f.pending);
  return {
    authServer: f.auth_server,
    ...(identity ? { caCertPem: f.ca_cert as string, identity } : {}),
    ...(f.join_token_sha256 ? { joinTokenHash: f.join_token_sha256 } : {}),
    ...(pending ? { pending } : {}),
  };
}

function decodeIdentity(f: Partial<StateFileV1>): BotIdentity {
  for (const k of ['ca_cert', 'bot_name', 'certificate', 'private_key'] as const) {
    if (typeof f[k] !== 'string' || f[k] === '') throw new Error(`${k} is missing`);
  }
  if (!Number.isSafeInteger(f.generation)) throw new Error('generation is missing');
  spkiPin(f.ca_cert as string); // throws on a CA that is not a certificate
  const cert = parseCertificate(f.certificate as string);
  const privateKey = createPrivateKey(f.private_key as string);
  if (!encodePublicKey(privateKey).equals(cert.subjectKey.blob)) throw new Error('the private key does not match the certificate');
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  return {
    botName: f.bot_name as string,
    instanceId: typeof f.instance_id === 'string' && f.instance_id !== '' ? f.instance_id : (botCertificateClaims(cert).instanceId ?? ''),
    generation: f.generation as number,
    privateKey,
    certificate: (f.certificate as string).trim(),
    principals: strings(f.principals),
    hostCertAuthorities: strings(f.host_cert_authorities),
    userCertAuthorities: strings(f.user_cert_authorities),
    validAfter: cert.validAfter,
    validBefore: cert.validBefore,
  };
}

function decodePending(p: unknown): PendingKey {
  const f = p as Partial<Record<'for' | 'join_token_sha256' | 'certificate_serial' | 'private_key', unknown>>;
  if (typeof f !== 'object' || f === null || typeof f.private_key !== 'string') throw new Error('pending.private_key is missing');
  const privateKey = createPrivateKey(f.private_key);
  if (f.for === 'join') {
    if (typeof f.join_token_sha256 !== 'string' || !SHA256_HEX.test(f.join_token_sha256)) throw new Error('pending.join_token_sha256 is not a SHA-256 hex digest');
    return { kind: 'join', joinTokenHash: f.join_token_sha256, privateKey };
  }
  if (f.for === 'renew') {
    if (typeof f.certificate_serial !== 'string' || !/^\d{1,20}$/.test(f.certificate_serial)) throw new Error('pending.certificate_serial is not a serial number');
    return { kind: 'renew', serial: f.certificate_serial, privateKey };
  }
  throw new Error(`pending.for ${JSON.stringify(f.for)} is neither "join" nor "renew"`);
}
