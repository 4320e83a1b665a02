import { connect, resolveTarget, type Clients, type GlobalOptions, type Target } from './connection';
import { formatJson, formatTable, type OutputFormat } from './output';

/** What every command handler gets: how to reach the server and how to print. */
export class CliContext {
  constructor(
    /** The name the CLI was called by (`mezctl`, `plexctl`), for error lines. */
    readonly prog: string,
    readonly env: NodeJS.ProcessEnv,
    readonly repoRoot: string | undefined,
    private readonly write: (s: string) => void,
  ) {}

  /** Prints text as is. */
  print(s: string): void {
    this.write(s);
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
  target(opts: GlobalOptions): Promise<Target> {
    return resolveTarget(opts, this.env, this.repoRoot);
  }

  /** Runs `fn` with connected clients and closes them afterwards. */
  async withClients<R>(opts: GlobalOptions, fn: (c: Clients, target: Target) => Promise<R>): Promise<R> {
    const target = await this.target(opts);
    const clients = connect(target);
    try {
      return await fn(clients, target);
    } finally {
      clients.close();
    }
  }
}
