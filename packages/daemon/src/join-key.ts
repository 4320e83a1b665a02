import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
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
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  const line = formatPublicKey(publicKey);
  await writeFileAtomic(`${path}.pub`, line + '\n', 0o644);
  log('created a join key: register its public key as spec.bound_keypair.public_key', { join_key: `${path}.pub`, public_key: line });
  return privateKey;
}

/** The credential of a bound-keypair join: a fresh statement for each attempt, signed by the join key. */
export function boundKeypairCredential(joinKey: KeyObject, audience: string, clock: Clock, registrationSecret?: string): (publicKey: string) => Promise<string> {
  return async (publicKey) => makeBoundKeypairCredential({ joinKey, audience, certPublicKeyBlob: parsePublicKey(publicKey).blob, timeMs: clock.now().getTime(), nonce: randomBytes(16), ...(registrationSecret ? { registrationSecret } : {}) });
}
