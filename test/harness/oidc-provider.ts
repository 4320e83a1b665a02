import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './cli';

/** Options of ExternalOAuth2Server.start: the one confidential client it knows. */
export interface ExternalOAuth2ServerOptions {
  clientId: string;
  clientSecret: string;
  /** How long to wait for it to listen; default 30 s. */
  timeoutMs?: number;
}

/**
 * A real OAuth2 authorization server (npm `oidc-provider`, client_credentials enabled)
 * in a process of its own on 127.0.0.1, standing in for a tenant's external machine
 * identity provider. `oidc-provider` is ESM-only and large, so it runs as
 * `test/harness/oidc-provider-server.mjs` under plain Node rather than inside jest; a
 * test can stop it to play an outage.
 */
export class ExternalOAuth2Server {
  private constructor(
    readonly issuer: string,
    private readonly child: ChildProcess,
    private readonly output: { text: string },
  ) {}

  static async start(o: ExternalOAuth2ServerOptions): Promise<ExternalOAuth2Server> {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'test', 'harness', 'oidc-provider-server.mjs')], {
      cwd: join(REPO_ROOT, 'test'),
      env: { ...process.env, OIDC_CLIENT_ID: o.clientId, OIDC_CLIENT_SECRET: o.clientSecret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = { text: '' };
    child.stderr?.on('data', (d: Buffer) => (output.text += d.toString()));
    const timeoutMs = o.timeoutMs ?? 30_000;
    const issuer = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`oidc-provider ${why}:\n${stdout}${output.text}`));
      };
      const timer = setTimeout(() => fail(`did not listen within ${timeoutMs} ms`), timeoutMs);
      child.once('exit', (code) => fail(`exited (${code}) before listening`));
      child.once('error', (err) => fail(`failed to start: ${err.message}`));
      child.stdout?.on('data', (d: Buffer) => {
        stdout += d.toString();
        const line = stdout.split('\n')[0];
        if (!stdout.includes('\n') || !line) return;
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.removeAllListeners('error');
        try {
          resolve((JSON.parse(line) as { issuer: string }).issuer);
        } catch {
          fail('printed something other than its address');
        }
      });
    });
    return new ExternalOAuth2Server(issuer, child, output);
  }

  /** What it logged on stderr (warnings, refused grants). */
  get log(): string {
    return this.output.text;
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Its OpenID Provider metadata (`/.well-known/openid-configuration`). */
  async metadata(): Promise<{ issuer: string; token_endpoint: string; grant_types_supported?: string[] }> {
    const res = await fetch(`${this.issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) });
    if (res.status !== 200) throw new Error(`oidc-provider discovery answered HTTP ${res.status}`);
    return (await res.json()) as { issuer: string; token_endpoint: string; grant_types_supported?: string[] };
  }

  /** Stops it (SIGTERM, then SIGKILL after 10 s) and waits until the process has exited. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
