import type { IdentityState, IdentityStateStore } from './identity-state';

/** State kept in memory, for tests; `failNext` makes the next save (of a kind) fail. */
export class MemoryStateStore implements IdentityStateStore {
  readonly description = 'memory';
  state: IdentityState | undefined;
  saves = 0;
  private failure: { err: Error; when: (s: IdentityState) => boolean } | undefined;

  constructor(initial?: IdentityState) {
    this.state = initial;
  }

  async load(): Promise<IdentityState | undefined> {
    return this.state;
  }

  async save(state: IdentityState): Promise<void> {
    const failure = this.failure;
    if (failure?.when(state)) {
      this.failure = undefined;
      throw failure.err;
    }
    this.state = state;
    this.saves++;
  }

  /** The next save for which `when` holds (default: the next save) throws `err`. */
  failNext(err: Error = new Error('memory state store: save failed'), when: (s: IdentityState) => boolean = () => true): void {
    this.failure = { err, when };
  }
}
