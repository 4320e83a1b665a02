import { readFileSync, statSync } from 'node:fs';
import { Client } from 'pg';
import { joinTokenHash } from '../harness/bot-credentials';
import { runBin } from '../harness/cli';
import { createRole } from '../harness/roles';
import { TestStack } from '../harness/test-stack';

/**
 * The foundation, end to end: the stack as processes on embedded PostgreSQL (no
 * DATABASE_URL, no Redis), driven through bin/ exactly as the README and seed 002 do.
 */
describe('quickstart stack on embedded PostgreSQL', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await TestStack.start();
    await createRole(stack.cliEnv);
  }, 120_000);
  afterAll(async () => stack?.destroy());

  test('mezctl is the bootstrap admin through the identity file the stack wrote (0600)', async () => {
    expect(statSync(stack.adminIdentityFile).mode & 0o777).toBe(0o600);
    const r = await runBin('mezctl', ['whoami', '--output', 'json'], { env: stack.cliEnv });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ principal: 'user', acr: '', amr: [] });
  });

  test('bots add prints exactly the lines seed 002 shows, and stores only a keyed hash of the token', async () => {
    const r = await runBin('mezctl', ['bots', 'add', '--name=github-deploy', '--roles=ci-deployer', '--token-ttl=1h'], { env: stack.cliEnv });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('Bot created: github-deploy (roles: ci-deployer)');
    const m = /^Join token: (tok-bot-[0-9a-f]{32}) \(expires: (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\)$/.exec(lines[1] ?? '');
    expect(m).not.toBeNull();
    const [, token, expires] = m as RegExpExecArray;
    const ttl = Date.parse(expires as string) - Date.now();
    expect(ttl).toBeGreaterThan(55 * 60_000);
    expect(ttl).toBeLessThanOrEqual(60 * 60_000);
    expect(lines[2]).toBe('');
    expect(lines[3]).toBe('Use this token with mezd identity:');
    expect(lines[4]).toBe(`mezd identity start --auth-server=localhost:${stack.ports.auth} --join-token=${token}`);

    const db = new Client({ connectionString: stack.status().databaseUrl });
    await db.connect();
    try {
      // The auth-server keeps join tokens, keyed by a key derived from its session pepper.
      const rows = await db.query<{ token_hash: Buffer }>('SELECT token_hash FROM auth.join_tokens');
      const expected = joinTokenHash(stack.secrets().session_pepper, token as string);
      expect(rows.rows.map((x) => x.token_hash.toString('hex'))).toContain(expected.toString('hex'));
      const dump = await db.query<{ t: string }>("SELECT string_agg(t::text, ' ') AS t FROM auth.join_tokens t");
      expect(dump.rows[0]?.t ?? '').not.toContain((token as string).slice(8));
    } finally {
      await db.end();
    }
  });

  test('plexctl is the same CLI; errors are one line NAME: Reason: message with a non-zero exit', async () => {
    const dup = await runBin('plexctl', ['bots', 'add', '--name=github-deploy', '--roles=ci-deployer'], { env: stack.cliEnv });
    expect(dup.code).toBe(1);
    expect(dup.stdout).toBe('');
    expect(dup.stderr).toBe('plexctl: Already exists: bot "github-deploy" already exists\n');

    const bad = await runBin('mezctl', ['bots', 'add', '--name=Bad_Name', '--roles=r'], { env: stack.cliEnv });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^mezctl: Invalid argument: invalid bot name "Bad_Name": /);
    expect(bad.stderr.split('\n')).toHaveLength(2);

    const ttl = await runBin('mezctl', ['bots', 'add', '--name=x1', '--roles=r', '--token-ttl=60'], { env: stack.cliEnv });
    expect(ttl.code).toBe(1);
    expect(ttl.stderr).toMatch(/^mezctl: Invalid argument: --token-ttl: invalid duration "60"/);

    const usage = await runBin('mezctl', ['bots', 'frobnicate'], { env: stack.cliEnv });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^mezctl: Invalid argument: /m);
  });

  test('PLEXSPHERE_URL leads the CLI to the stack through the discovery document', async () => {
    const doc = (await (await fetch(`${stack.httpUrl}/.well-known/mezite`)).json()) as { auth_server: string; ca_pin: string };
    expect(doc.auth_server).toBe(`localhost:${stack.ports.auth}`);
    expect(doc.ca_pin).toMatch(/^sha256:[0-9a-f]{64}$/);
    const token = JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')).token as string;
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/mezite-tok-');
    writeFileSync(`${dir}/t`, token);
    const r = await runBin('plexctl', ['whoami', '--token-file', `${dir}/t`], { env: { PLEXSPHERE_URL: stack.httpUrl, MEZITE_IDENTITY: '', MEZITE_DATA_DIR: dir }, cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')[0]).toMatch(/^PRINCIPAL\s+SUBJECT\s+DOMAIN\s+ACR\s+AMR$/);
    expect(r.stdout.split('\n')[1]).toMatch(/^user\s+[0-9a-f-]{36}\s+[0-9a-f-]{36}\s+-\s+-$/);
  });

  test('a wrong credential is refused as Unauthenticated', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/mezite-tok-');
    writeFileSync(`${dir}/t`, 'mzs_00000000000000000000000000000000');
    const r = await runBin('mezctl', ['bots', 'ls', '--token-file', `${dir}/t`], { env: stack.cliEnv });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('mezctl: Unauthenticated: invalid or expired credential\n');
  });

  test('data survives a restart of the whole stack', async () => {
    const dataDir = stack.dataDir;
    const ports = stack.ports;
    expect(await stack.stop()).toBe(0);
    stack = await TestStack.start({ dataDir, ports });
    const ls = await runBin('mezctl', ['bots', 'ls', '--output', 'json'], { env: stack.cliEnv });
    expect(ls.code).toBe(0);
    expect((JSON.parse(ls.stdout) as { items: Array<{ name: string }> }).items.map((b) => b.name)).toContain('github-deploy');
    const again = await runBin('mezctl', ['bots', 'add', '--name=after-restart', '--roles=ci-deployer', '--token-ttl=30m'], { env: stack.cliEnv });
    expect(again.stderr).toBe('');
    expect(again.stdout).toMatch(/^Bot created: after-restart \(roles: ci-deployer\)\n/);
  }, 120_000);
});
