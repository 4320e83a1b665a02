import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from './atomic-file';
import type { BotIdentity } from './bot-identity';
import { type Destination, identityArtifacts } from './destination';

/**
 * Writes `ssh_key` (0600), `ssh_key-cert.pub` and `known_hosts` (0644) into a directory,
 * each file replaced atomically (temp file, fsync, rename). The directory is created
 * owner-only when missing; an existing one keeps its mode, since other local users
 * (a deploy user, Ansible) may be meant to read the certificate.
 */
export class DirectoryDestination implements Destination {
  readonly description: string;
  private readonly dir: string;

  constructor(dir: string) {
    if (!dir) throw new Error('DirectoryDestination: dir is required');
    this.dir = resolve(dir);
    this.description = `directory:${this.dir}`;
  }

  async write(identity: BotIdentity): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const a of identityArtifacts(identity)) await writeFileAtomic(join(this.dir, a.name), a.data, a.mode);
  }
}
