import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, runBin } from '../harness/cli';
import { TestStack } from '../harness/test-stack';

/**
 * Seed 000 ("Give a machine its own identity"), verbatim: each step's bash is the
 * tutorial's own text, run by bash with `bin/` on PATH and PLEXSPHERE_URL pointing at
 * the stack, one shell session per test sharing the tutorial's variables via a file.
 */
describe('seed 000: a machine identity, its token, rotation and revocation', () => {
  let stack: TestStack;
  let work: string;
  const vars = () => join(work, 'vars.sh');

  /** Runs a tutorial step in bash; variables persist across steps through vars.sh. */
  const step = (script: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const wrapped = `set -o pipefail\n[ -f ${vars()} ] && . ${vars()}\n${script}\nrc=$?\ndeclare -p CLIENT_ID CLIENT_SECRET TOKEN SVC_ID TOKEN_ID 2>/dev/null > ${vars()}\nexit $rc\n`;
      const child = spawn('bash', ['-c', wrapped], {
        cwd: work,
        env: { ...process.env, PATH: `${BIN}:${process.env.PATH ?? ''}`, PLEXSPHERE_URL: stack.httpUrl, MEZITE_IDENTITY: '', MEZITE_DATA_DIR: work, MEZITE_AUTH_SERVER: '', ...env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`step timed out:\n${script}\n${stderr}`));
      }, 60_000);
      child.once('close', (code) => {
        clearTimeout(t);
        resolve({ code, stdout, stderr });
      });
    });

  const runBinJson = async (args: string[]) => {
    const r = await runBin('mezctl', args, { env: stack.cliEnv });
    expect(r.stderr).toBe('');
    return r.stdout;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mezite-seed000-'));
    stack = await TestStack.start({ env: { MEZITE_ROTATION_OVERLAP: '4s' } });
  }, 120_000);
  afterAll(async () => stack?.destroy());

  test('Before you start: the demo credentials', async () => {
    const r = await step('CLIENT_ID=svc-deployer\nCLIENT_SECRET=svc-deployer-demo-secret');
    expect(r.code).toBe(0);
  });

  test('Step 1: authenticate the machine', async () => {
    const r = await step(`TOKEN=$(plexctl identity-tokens issue-service \\
  --client-id "$CLIENT_ID" \\
  --grant-type client_credentials \\
  --client-secret "$CLIENT_SECRET" \\
  --output json | jq -r '.access_token')

printf '%s' "$TOKEN" > /tmp/svc.token
test -s /tmp/svc.token && echo "machine token captured"`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('machine token captured\n');
    expect(existsSync('/tmp/svc.token')).toBe(true);
  });

  test('Step 2: whoami says service, no ACR or AMR', async () => {
    const r = await step('plexctl whoami --token-file /tmp/svc.token');
    expect(r.stderr).toBe('');
    const [head, row] = r.stdout.split('\n');
    expect(head).toMatch(/^PRINCIPAL\s+SUBJECT\s+DOMAIN\s+ACR\s+AMR$/);
    expect(row).toMatch(/^service\s+[0-9a-f-]{36}\s+[0-9a-f-]{36}\s+-\s+-$/);
    const id = await step(`SVC_ID=$(plexctl whoami --token-file /tmp/svc.token --output json \\
  | jq -r '.subject')
echo "$SVC_ID"`);
    expect(id.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
  });

  test('Step 3: the machine lists the token it holds', async () => {
    const r = await step('plexctl identity-tokens list --token-file /tmp/svc.token');
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+ENV\s+CREATED_AT\s+EXPIRES_AT\s+LAST_USED_AT\s+ROTATED_AT$/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^[0-9a-f-]{36}\s+live\s+\S+Z\s+\S+Z\s+\S+\s+-$/);
    const id = await step(`TOKEN_ID=$(plexctl identity-tokens list --token-file /tmp/svc.token \\
  --output json | jq -r '.items[0].id')
echo "$TOKEN_ID"`);
    expect(id.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
  });

  test('Step 4: a machine cannot mint a fresh token (Forbidden, non-zero exit)', async () => {
    const r = await step(`plexctl identity-tokens issue \\
  --identity-ref "service:$SVC_ID" \\
  --env-prefix dev \\
  --token-file /tmp/svc.token`);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('plexctl: Forbidden: a caller authenticated via an API token cannot mint another API token; sign in interactively to issue tokens\n');
    expect(r.code).not.toBe(0);
  });

  test('Step 5: rotate; both plaintexts work until the deadline, then only the new one', async () => {
    const r = await step(`plexctl identity-tokens rotate \\
  --id "$TOKEN_ID" \\
  --token-file /tmp/svc.token`);
    expect(r.stderr).toBe('');
    const m = /^# WARNING: this is the only time this plaintext will be displayed\n(psk_live_\S+)\n\nid: {17}([0-9a-f-]{36})\nenv_prefix: {9}live\nexpires_at: {9}\S+Z\nrotation_deadline: {2}(\S+Z)\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    const [, plaintext] = m as RegExpExecArray;
    const both = await step(`printf '%s' "${plaintext}" > new.token\nplexctl whoami --token-file /tmp/svc.token >/dev/null && plexctl whoami --token-file new.token >/dev/null && echo both`);
    expect(both.stdout).toBe('both\n');
    await new Promise((res) => setTimeout(res, 5000)); // the overlap is configured to 4 s for this test
    const old = await step('plexctl whoami --token-file /tmp/svc.token');
    expect(old.code).not.toBe(0);
    expect(old.stderr).toMatch(/^plexctl: Unauthenticated: /);
    const fresh = await step('plexctl whoami --token-file new.token');
    expect(fresh.code).toBe(0);
  }, 30_000);

  test('Step 6: delete prints nothing, exits 0, and the token is refused from the next request', async () => {
    const id = await step(`TOKEN_ID=$(plexctl identity-tokens list --token-file new.token --output json | jq -r '.items[0].id')\necho $TOKEN_ID`);
    expect(id.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    const r = await step(`plexctl identity-tokens delete \\
  --id "$TOKEN_ID" \\
  --token-file new.token

rm -f /tmp/svc.token`);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const after = await step('plexctl whoami --token-file new.token');
    expect(after.code).not.toBe(0);
    expect(after.stderr).toMatch(/^plexctl: Unauthenticated: /);
    const again = await step(`plexctl identity-tokens issue-service --client-id "$CLIENT_ID" --grant-type client_credentials --client-secret "$CLIENT_SECRET" --output json | jq -r .token_type`);
    expect(again.stdout).toBe('Bearer\n');
  });

  test('no plaintext token or client secret in any service log, listing or audit record', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const seen = [...new Set((await step('echo "$TOKEN"; cat new.token')).stdout.split(/\s+/).filter((t) => t.startsWith('psk_')))];
    expect(seen.length).toBeGreaterThanOrEqual(2);
    const logs = readdirSync(join(stack.dataDir, 'logs')).map((f) => readFileSync(join(stack.dataDir, 'logs', f), 'utf8')).join('\n');
    expect(logs.length).toBeGreaterThan(0);
    // The fixtures are on (seed 000 needs them), and the auth-server says so at start.
    expect(logs).toContain('the demo fixtures are on: client svc-deployer was created with the secret seed 000 publishes');
    const audit = await runBinJson(['audit', 'ls', '--output', 'json', '--limit', '1000']);
    const list = await runBinJson(['service-identities', 'ls', '--output', 'json']);
    for (const secret of [...seen, 'svc-deployer-demo-secret']) {
      expect(logs).not.toContain(secret);
      expect(audit).not.toContain(secret);
      expect(list).not.toContain(secret);
    }
  });
});
