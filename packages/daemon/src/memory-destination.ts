import type { BotIdentity } from './bot-identity';
import { type Destination, type IdentityArtifact, identityArtifacts } from './destination';

/** Keeps the artifacts in memory, for tests; `failNext` makes the next write fail. */
export class MemoryDestination implements Destination {
  readonly description = 'memory';
  /** What was last written, by file name. */
  readonly files = new Map<string, IdentityArtifact>();
  /** Every identity written, oldest first. */
  readonly written: BotIdentity[] = [];
  private failure: Error | undefined;

  async write(identity: BotIdentity): Promise<void> {
    const failure = this.failure;
    this.failure = undefined;
    if (failure) throw failure;
    for (const a of identityArtifacts(identity)) this.files.set(a.name, a);
    this.written.push(identity);
  }

  /** The next write throws `err` without writing anything. */
  failNext(err: Error = new Error('memory destination: write failed')): void {
    this.failure = err;
  }
}
