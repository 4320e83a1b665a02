import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signInWithoutBrowser } from './browserless';
import { BIN, REPO_ROOT } from './cli';
import type { TestStack } from './test-stack';

/** The development provider's demo person: an admin of the default tenant (MEZITE_OIDC_ADMINS). */
export const DEMO_PERSON = { email: 'demo@mezite.dev', password: 'demo' };

/**
 * Signs the demo person in as `mezctl login --no-browser` does (the CLI as a child
 * process, the provider's forms filled without a browser) and returns the interactive
 * session it saved. `home` is an empty directory the session is kept in. Bounded: 30 s.
 */
export async function signInDemo(stack: TestStack, home: string): Promise<{ sessionToken: string; userId: string }> {
  const env = { ...process.env, MEZITE_HOME: join(home, 'mezite-home'), PLEXSPHERE_URL: stack.httpUrl, MEZITE_IDENTITY: '', MEZITE_DATA_DIR: home, MEZITE_AUTH_SERVER: '' };
  const child = spawn(join(BIN, 'mezctl'), ['login', '--no-browser'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    const deadline = Date.now() + 30_000;
    let url: string | undefined;
    while (!url && Date.now() < deadline && child.exitCode === null) {
      url = /^\s+(http:\/\/\S+\/auth\?\S+)$/m.exec(out)?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 50));
    }
    if (!url) throw new Error(`mezctl login printed no sign-in URL:\n${out}\n${err}`);
    await signInWithoutBrowser(url, DEMO_PERSON);
    const code = await exited;
    if (code !== 0) throw new Error(`mezctl login exited ${code}:\n${out}\n${err}`);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const saved = JSON.parse(readFileSync(join(home, 'mezite-home', 'session.json'), 'utf8')) as { token: string; principal: string };
  return { sessionToken: saved.token, userId: saved.principal.replace(/^user:/, '') };
}
