import { isMeziteError, type Clock } from '@mezite/identity';
import { ClientError, Status } from 'nice-grpc';
import { connect, resolveTarget, type Clients, type GlobalOptions, type Target, type TargetOptions } from './connection';
import { NotImplementedError } from './errors';
import { formatJson, formatTable, type OutputFormat } from './output';

/** What every command handler gets: how to reach the server, how to print, what time it is. */
export class CliContext {
  constructor(
    /** The name the CLI was called by (`mezctl`, `plexctl`), for error lines. */
    readonly prog: string,
    readonly env: NodeJS.ProcessEnv,
    readonly repoRoot: string | undefined,
    private readonly write: (s: string) => void,
    /** Reads all of standard input (`create -f -`); tests pass a string instead. */
    readonly readStdin: () => Promise<string>,
    /** The clock `--since 1h` and friends count back from. */
    readonly clock: Clock,
    /** Where notes that are not output go (stderr), so stdout stays parseable. */
    private readonly writeNote: (s: string) => void = () => undefined,
  ) {}

  /** Prints text as is. */
  print(s: string): void {
    this.write(s);
  }

  /** Prints a one-line note on stderr (`mezctl: …`), never mixed into stdout. */
  note(s: string): void {
    this.writeNote(`${this.prog}: ${s}\n`);
  }

  /** Prints rows as a table, or `json()` of them as JSON. */
  printList<T>(format: OutputFormat, items: T[], headers: string[], row: (t: T) => Array<string | undefined | null>, json: (items: T[]) => unknown): void {
    this.write(format === 'json' ? formatJson(json(items)) : formatTable(headers, items.map(row)));
  }

  /** Prints a JSON document. */
  printJson(value: unknown): void {
    this.write(formatJson(value));
  }

  /** Resolves the target from flags and environment. */
  target(opts: GlobalOptions, how: TargetOptions = {}): Promise<Target> {
    return resolveTarget(opts, this.env, this.repoRoot, how);
  }

  /**
   * Runs `fn` with connected clients and closes them afterwards. An RPC the server
   * does not have (an auth server older than this CLI) becomes one clear line
   * instead of grpc-js's "The server does not implement the method …". With
   * `anonymous`, the clients carry no credential whatever the flags and identity say.
   */
  async withClients<R>(opts: GlobalOptions, fn: (c: Clients, target: Target) => Promise<R>, how: TargetOptions = {}): Promise<R> {
    const target = await this.target(opts, how);
    const clients = connect(target);
    try {
      return await fn(clients, target);
    } catch (err) {
      const cause = isMeziteError(err) ? err.cause : err;
      if (cause instanceof ClientError && cause.code === Status.UNIMPLEMENTED) {
        const method = cause.path.replace(/^\/mezite\.\w+\.v\d+\./, '').replace('/', '.');
        throw new NotImplementedError(`the auth server at ${target.address} does not implement ${method}; it is older than this ${this.prog}`, { cause: err });
      }
      throw err;
    } finally {
      clients.close();
    }
  }
}
