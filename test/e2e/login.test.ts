import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { oidcNonceFor } from '@mezite/identity';
import { createMeziteClients, publicChannelCredentials } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { signInWithoutBrowser } from '../harness/browserless';
import { BIN, REPO_ROOT, runBin } from '../harness/cli';
import { TestStack } from '../harness/test-stack';

const DEMO = { email: 'demo@mezite.dev', password: 'demo' };
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** `mezctl login` running in the background, its output collected as it comes. */
class LoginProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  }

  static start(args: string[], env: NodeJS.ProcessEnv): LoginProcess {
    return new LoginProcess(spawn(join(BIN, 'mezctl'), ['login', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /** The sign-in URL it printed; bounded wait. */
  async url(timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = /^\s+(http:\/\/\S+\/auth\?\S+)$/m.exec(this.stdout);
      if (m) return m[1] as string;
      if (this.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`mezctl login printed no sign-in URL:\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
  }

  /** Waits for it to end (bounded; killed after `timeoutMs`). */
  async result(timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return { code, stdout: this.stdout, stderr: this.stderr };
  }
}

/**
 * Human sign-in end to end: the stack's development OpenID Provider, `mezctl login
 * --no-browser` as a child process, a person played without a browser (login and
 * consent forms), then the session at work (whoami with ACR/AMR, minting an API token,
 * which only an interactive session may) and `mezctl logout` ending it.
 */
describe('mezctl login / logout against the development OpenID Provider', () => {
  let stack: TestStack;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let userId = '';
  let sessionToken = '';
  const mezctl = (args: string[], extra: NodeJS.ProcessEnv = {}) => runBin('mezctl', args, { env: { ...env, ...extra } });

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'mezite-login-'));
    // The CLI finds the stack through its discovery URL and keeps its session in MEZITE_HOME;
    // no admin identity is named or found (MEZITE_DATA_DIR points at an empty dir).
    env = { MEZITE_HOME: join(home, 'mezite-home'), PLEXSPHERE_URL: '', MEZITE_IDENTITY: '', MEZITE_DATA_DIR: home, MEZITE_AUTH_SERVER: '' };
    stack = await TestStack.start();
    env.PLEXSPHERE_URL = stack.httpUrl;
  }, 120_000);
  afterAll(async () => {
    await stack?.destroy();
    rmSync(home, { recursive: true, force: true });
  });

  test('the stack runs the development provider on its own port', async () => {
    expect(stack.status().services['dev-oidc']?.healthy).toBe(true);
    const doc = (await (await fetch(`${stack.oidcIssuer}/.well-known/openid-configuration`)).json()) as { issuer: string; code_challenge_methods_supported: string[] };
    expect(doc.issuer).toBe(stack.oidcIssuer);
    expect(doc.code_challenge_methods_supported).toEqual(['S256']);
  });

  test('a wrong password is refused by the provider; the right one signs in and prints who', async () => {
    const login = LoginProcess.start(['--no-browser'], env);
    const url = new URL(await login.url());
    expect(url.origin).toBe(stack.oidcIssuer);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    for (const p of ['state', 'nonce', 'code_challenge']) expect(url.searchParams.get(p)).toBeTruthy();

    await expect(signInWithoutBrowser(url.href, { ...DEMO, password: 'wrong' })).rejects.toThrow(/Invalid email or password/);
    const browser = await signInWithoutBrowser(url.href, DEMO);
    expect(browser.trail.join('\n')).toMatch(/\/login → 303[\s\S]*\/confirm → 303/);
    expect(browser.callbackStatus).toBe(200);

    const r = await login.result();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = new RegExp(`^Signed in as demo@mezite\\.dev \\(user:(${UUID})\\), session expires (\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ)$`, 'm').exec(r.stdout);
    expect(m).not.toBeNull();
    userId = m?.[1] as string;
    const expires = Date.parse(m?.[2] as string);
    expect(Math.abs(expires - Date.now() - 12 * 3600_000)).toBeLessThan(10 * 60_000);

    const file = join(env.MEZITE_HOME as string, 'session.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(saved).sort()).toEqual(['auth_server', 'ca_cert', 'expires_at', 'principal', 'token', 'version']);
    expect(saved).toMatchObject({ version: 1, principal: `user:${userId}`, expires_at: m?.[2], auth_server: `localhost:${stack.ports.auth}` });
    sessionToken = saved.token as string;
    expect(sessionToken).toMatch(/^mzs_[0-9a-f]{32}$/);
  });

  test('whoami shows the user with the ACR and AMR of the sign-in', async () => {
    const r = await mezctl(['whoami']);
    expect(r.stderr).toBe('');
    const [head, row] = r.stdout.split('\n');
    expect(head).toMatch(/^PRINCIPAL\s+SUBJECT\s+DOMAIN\s+ACR\s+AMR$/);
    expect(row).toMatch(new RegExp(`^user\\s+${userId}\\s+${UUID}\\s+urn:mezite:acr:password\\s+pwd$`));
    const json = JSON.parse((await mezctl(['whoami', '--output', 'json'])).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ principal: 'user', subject: userId, acr: 'urn:mezite:acr:password', amr: ['pwd'] });
  });

  test('an interactive session may mint an API token for itself', async () => {
    const r = await mezctl(['identity-tokens', 'issue', '--identity-ref', `user:${userId}`, '--env-prefix', 'dev', '--output', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { access_token: string }).access_token).toMatch(/^psk_dev_/);
  });

  test('MEZITE_OIDC_ADMINS made the demo user an admin of the default tenant', async () => {
    const r = await mezctl(['roles', 'ls']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  test('the session is used only for its own auth server', async () => {
    // Pointed at another server, mezctl neither sends the session nor finds a CA for it.
    const r = await mezctl(['whoami', '--auth-server', '127.0.0.1:1'], { PLEXSPHERE_URL: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no CA to verify 127\.0\.0\.1:1/);
  });

  test('a machine tenant has no human sign-in, and a forged ID token is refused with one error', async () => {
    const r = await mezctl(['login', '--no-browser', '--tenant', 'svc-demo']);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'mezctl: Failed precondition: human sign-in is not configured for this tenant\n' });
    const ca = readFileSync(stack.adminIdentityFile, 'utf8');
    const clients = createMeziteClients({ address: `localhost:${stack.ports.auth}`, credentials: publicChannelCredentials((JSON.parse(ca) as { ca_cert: string }).ca_cert), peerName: 'auth server' });
    try {
      const sessions = clients.create(authv1.SessionServiceDefinition);
      const secret = 'a-login-secret-of-forty-three-characters-ok';
      const forged = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: stack.oidcIssuer, aud: 'mezctl', sub: 'demo', nonce: oidcNonceFor(secret), iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60 })).toString('base64url')}.`;
      await expect(sessions.createSession({ idToken: forged, nonce: secret, tenant: '' })).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid ID token' });
      // A client that sends the nonce itself instead of its secret (an old mezctl) is told so.
      await expect(sessions.createSession({ idToken: forged, nonce: 'n', tenant: '' })).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringContaining('upgrade mezctl') });
    } finally {
      clients.close();
    }
  });

  test('the provider keeps its signing keys across a restart', async () => {
    const kids = async () => ((await (await fetch(`${stack.oidcIssuer}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
    const before = await kids();
    expect(statSync(join(stack.dataDir, 'dev-oidc', 'keys.json')).mode & 0o777).toBe(0o600);
    await stack.killService('dev-oidc');
    await stack.startStopped();
    expect(await kids()).toEqual(before);
  });

  test('logout ends the session on the server and removes the file', async () => {
    const r = await mezctl(['logout']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: `Signed out (user:${userId}).\n` });
    expect(existsSync(join(env.MEZITE_HOME as string, 'session.json'))).toBe(false);
    const tokenFile = join(home, 'old-session.token');
    writeFileSync(tokenFile, sessionToken);
    expect(await mezctl(['whoami', '--token-file', tokenFile])).toMatchObject({ code: 1, stderr: 'mezctl: Unauthenticated: invalid or expired credential\n' });
    expect(await mezctl(['logout'])).toMatchObject({ code: 0, stdout: 'Not signed in.\n' });
  });

  test('the audit log has the sign-in, the refused forged token and the logout, and no secret', async () => {
    const r = await runBin('mezctl', ['audit', 'ls', '--type', 'session.', '--output', 'json'], { env: stack.cliEnv });
    expect(r.stderr).toBe('');
    const all = (JSON.parse(r.stdout) as { items: Array<{ type: string; actor: string; result: string; details: Record<string, string> }> }).items;
    // The stack's first start minted the bootstrap admin session, audited first.
    expect(all.filter((e) => e.type === 'session.bootstrap').map((e) => `${e.result} ${e.actor}`).sort()).toEqual(['requested mezite', 'success mezite']);
    const items = all.filter((e) => e.type !== 'session.bootstrap');
    expect(items.map((e) => [e.type, e.result, e.actor])).toEqual([
      ['session.delete', 'success', `user:${userId}`],
      ['session.create', 'failure', 'anonymous'],
      ['session.create', 'success', `user:${userId}`],
    ]);
    expect(items[1]?.details.reason).toMatch(/alg|JWS|Unsupported/i);
    expect(items[2]?.details).toMatchObject({ issuer: stack.oidcIssuer, subject: 'demo', acr: 'urn:mezite:acr:password', amr: 'pwd', roles: 'admin' });
    expect(r.stdout).not.toContain(sessionToken);
  });
});
