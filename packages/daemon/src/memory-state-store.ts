import type { IdentityState, IdentityStateStore } from './identity-state';

/** State kept in memory, for tests; `failNext` makes the next save fail. */
export class MemoryStateStore implements IdentityStateStore {
  readonly description = 'memory';
  state: IdentityState | undefined;
  saves = 0;
  private failure: Error | undefined;

  constructor(initial?: IdentityState) {
    this.state = initial;
  }

  async load(): Promise<IdentityState | undefined> {
    return this.state;
  }

  async save(state: IdentityState): Promise<void> {
    const failure = this.failure;
    this.failure = undefined;
    if (failure) throw failure;
    this.state = state;
    this.saves++;
  }

  /** The next save throws `err`. */
  failNext(err: Error = new Error('memory state store: save failed')): void {
    this.failure = err;
  }
}
