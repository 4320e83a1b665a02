import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { formatPublicKey, makeBoundKeypairCredential, parsePrivateKey, parsePublicKey } from '@mezite/ssh';
import type { Clock } from '@mezite/identity';
import { writeFileAtomic } from './atomic-file';
import { UsageError } from './errors';

/** The join key's file in the data dir (`ssh-keygen -t ed25519 -N '' -f` writes one mezd reads). */
export const JOIN_KEY_FILE = 'join-key';

/**
 * The long-lived key a `bound-keypair` machine joins and recovers with: read from
 * `<data-dir>/join-key` (OpenSSH or PEM, Ed25519 or ECDSA), or made on first start
 * (Ed25519, 0600) with its public half in `join-key.pub` for the admin to register.
 * It never leaves the machine; only signatures by it are sent.
 */
export async function loadOrCreateJoinKey(dataDir: string, log: (msg: string, fields: Record<string, string>) => void): Promise<KeyObject> {
  const path = join(dataDir, JOIN_KEY_FILE);
  const found = await readJoinKey(path);
  if (found) return found;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  const line = formatPublicKey(publicKey);
  await writeFileAtomic(`${path}.pub`, line + '\n', 0o644);
  log('created a join key: register its public key as spec.bound_keypair.public_key', { join_key: `${path}.pub`, public_key: line });
  return privateKey;
}

/** The key in `path`, or undefined when there is none; a key other users can read is refused. */
async function readJoinKey(path: string): Promise<KeyObject | undefined> {
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`cannot read the join key ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (text !== undefined) {
    const mode = (await stat(path)).mode & 0o777;
    if ((mode & 0o077) !== 0) throw new UsageError(`the join key ${path} is readable by other users (mode ${mode.toString(8)}); chmod 600 it`);
    try {
      return parsePrivateKey(text, `join key ${path}`);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return undefined;
}

/** Where an operator puts the join key to rotate to (`ssh-keygen -t ed25519 -N '' -f <data-dir>/join-key.next`). */
export const NEXT_JOIN_KEY_FILE = 'join-key.next';

/**
 * The join key, and the key to rotate to when `join-key.next` exists: the next join
 * (first start or a recovery) presents both, signed by both, and once it succeeds the
 * next key becomes `join-key`. A join whose answer was lost presents the same pair
 * again, which the server admits (the new key is bound by then).
 */
export class JoinKeyring {
  private constructor(
    private readonly dataDir: string,
    private key: KeyObject,
    private next: KeyObject | undefined,
    private readonly log: (msg: string, fields: Record<string, string>) => void,
  ) {}

  /** Reads (or on first start makes) the join key, and the next one if any. */
  static async load(dataDir: string, log: (msg: string, fields: Record<string, string>) => void): Promise<JoinKeyring> {
    const key = await loadOrCreateJoinKey(dataDir, log);
    return new JoinKeyring(dataDir, key, await readJoinKey(join(dataDir, NEXT_JOIN_KEY_FILE)), log);
  }

  /** The credential of one join attempt: a fresh statement for the key to certify. */
  credential(audience: string, clock: Clock, registrationSecret?: string): (publicKey: string) => Promise<string> {
    return async (publicKey) =>
      makeBoundKeypairCredential({ joinKey: this.key, ...(this.next ? { newJoinKey: this.next } : {}), audience, certPublicKeyBlob: parsePublicKey(publicKey).blob, timeMs: clock.now().getTime(), nonce: randomBytes(16), ...(registrationSecret ? { registrationSecret } : {}) });
  }

  /** After a successful join: a presented next key is the join key from now on. */
  async joined(): Promise<void> {
    if (!this.next) return;
    const path = join(this.dataDir, JOIN_KEY_FILE);
    const next = join(this.dataDir, NEXT_JOIN_KEY_FILE);
    await rename(next, path);
    await rename(`${next}.pub`, `${path}.pub`).catch(() => writeFileAtomic(`${path}.pub`, formatPublicKey(this.next as KeyObject) + '\n', 0o644));
    this.key = this.next;
    this.next = undefined;
    this.log('rotated the join key', { join_key: `${path}.pub`, public_key: formatPublicKey(this.key) });
  }
}

