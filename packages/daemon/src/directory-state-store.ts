import { createPrivateKey } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { failedPrecondition } from '@mezite/identity';
import { spkiPin } from '@mezite/platform/client';
import { encodePublicKey, parseCertificate } from '@mezite/ssh';
import { writeFileAtomic } from './atomic-file';
import type { IdentityState, IdentityStateStore } from './identity-state';

/** The state file inside the data dir. */
export const STATE_FILE = 'identity.json';

/** The state file's JSON: snake_case, versioned, readable with `jq` by an operator. */
interface StateFileV1 {
  version: 1;
  auth_server: string;
  ca_cert: string;
  /** Informational: what `--ca-pin` would be for this CA. */
  ca_pin: string;
  bot_name: string;
  generation: number;
  certificate: string;
  /** PKCS#8 PEM, unencrypted: the file is 0600 in a 0700 directory. */
  private_key: string;
  principals: string[];
  host_cert_authorities: string[];
  user_cert_authorities: string[];
}

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
    const id = state.identity;
    const file: StateFileV1 = {
      version: 1,
      auth_server: state.authServer,
      ca_cert: state.caCertPem,
      ca_pin: spkiPin(state.caCertPem),
      bot_name: id.botName,
      generation: id.generation,
      certificate: id.certificate,
      private_key: id.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      principals: id.principals,
      host_cert_authorities: id.hostCertAuthorities,
      user_cert_authorities: id.userCertAuthorities,
    };
    await writeFileAtomic(this.path, JSON.stringify(file, null, 2) + '\n', 0o600);
  }
}

function decode(f: Partial<StateFileV1>): IdentityState {
  if (f.version !== 1) throw new Error(`unsupported version ${JSON.stringify(f.version)}`);
  for (const k of ['auth_server', 'ca_cert', 'bot_name', 'certificate', 'private_key'] as const) {
    if (typeof f[k] !== 'string' || f[k] === '') throw new Error(`${k} is missing`);
  }
  if (!Number.isSafeInteger(f.generation)) throw new Error('generation is missing');
  spkiPin(f.ca_cert as string); // throws on a CA that is not a certificate
  const cert = parseCertificate(f.certificate as string);
  const privateKey = createPrivateKey(f.private_key as string);
  if (!encodePublicKey(privateKey).equals(cert.subjectKey.blob)) throw new Error('the private key does not match the certificate');
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  return {
    authServer: f.auth_server as string,
    caCertPem: f.ca_cert as string,
    identity: {
      botName: f.bot_name as string,
      generation: f.generation as number,
      privateKey,
      certificate: (f.certificate as string).trim(),
      principals: strings(f.principals),
      hostCertAuthorities: strings(f.host_cert_authorities),
      userCertAuthorities: strings(f.user_cert_authorities),
      validAfter: cert.validAfter,
      validBefore: cert.validBefore,
    },
  };
}
