import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Private keys are readable by their owner only. */
export const KEY_MODE = 0o600;
/** Certificates are public material. */
export const CERT_MODE = 0o644;

/** The two files of one identity in a PKI directory: `<base>.crt` and `<base>.key`. */
export interface PemPaths {
  certPath: string;
  keyPath: string;
}

/** Where the CA (`base` = `ca`) or a leaf (`base` = its name) lives inside `dir`. */
export function pemPaths(dir: string, base: string): PemPaths {
  return { certPath: join(dir, `${base}.crt`), keyPath: join(dir, `${base}.key`) };
}

/** Creates the PKI directory owner-only (0700) if it is missing; an existing one is left as it is. */
export async function ensurePkiDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** The file's text, or undefined when it does not exist; any other read error is thrown. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Writes `data` so that readers see either the old file or the whole new one: a temporary
 * file in the same directory (same file system, so the rename is atomic) created with
 * its final `mode`, then renamed over the target. A key is never world-readable, not
 * even for a moment.
 */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
