import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `path` so that a reader sees either the whole old file or the whole new one,
 * and a crash leaves one of the two on disk: a temporary file in the same directory
 * (same file system, so the rename is atomic), created with `mode` and chmod-ed to it
 * (the umask must not change who can read a key), flushed with fsync, renamed over the
 * target, then the directory fsync-ed so the rename itself survives a power loss.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode: number): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', mode);
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDirectory(dir);
}

/** fsync of a directory; a file system that cannot (some network ones) is not an error. */
async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    /* best effort: the data itself was already synced */
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
