import { createHash } from 'node:crypto';
import { runBin, type CliResult } from '../harness/cli';
import { runAsMachine, runWithToken } from '../harness/machine-cli';
import { TestStack } from '../harness/test-stack';

/**
 * Issue 16, public revocation: whoever finds a leaked `psk_` token (a person, GitHub's
 * secret scanning) reports it to the auth server's HTTP port and it stops working at
 * once, with the successor a rotation made from it; the audit log says where it was
 * found. Against the real stack: auth-server, token-service, PostgreSQL.
 */
describe('a leaked API token reported to /v1/secret-scanning/revoke', () => {
  let stack: TestStack;
  let svc: { client_id: string; client_secret: string };
  const asToken = (token: string, args: string[]): Promise<CliResult> => runWithToken(stack.httpUrl, token, args);
  const json = <T>(r: CliResult): T => {
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    return JSON.parse(r.stdout) as T;
  };
  const signIn = async () => json<{ access_token: string; id: string }>(await runAsMachine(stack.httpUrl, ['identity-tokens', 'issue-service', '--client-id', svc.client_id, '--grant-type', 'client_credentials', '--client-secret', svc.client_secret, '--output', 'json']));
  const report = (matches: unknown[]) => fetch(`${stack.httpUrl}/v1/secret-scanning/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(matches) });
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');

  beforeAll(async () => {
    stack = await TestStack.start();
    svc = json(await runBin('mezctl', ['service-identities', 'add', '--name', 'leaky', '--output', 'json'], { env: stack.cliEnv }));
  }, 120_000);
  afterAll(async () => stack?.destroy());

  test('the leaked token and the successor its rotation made stop working once the report is answered; a sibling token keeps working; the audit log says where it was found', async () => {
    const leaked = await signIn();
    const sibling = await signIn();
    const successor = json<{ plaintext: string }>(await asToken(leaked.access_token, ['identity-tokens', 'rotate', '--id', leaked.id, '--output', 'json']));
    const forged = `${leaked.access_token.slice(0, -6)}${leaked.access_token.endsWith('000000') ? '111111' : '000000'}`;
    const where = 'https://github.com/octo-org/app/blob/0d1e/deploy.sh';

    const r = await report([{ token: forged, type: 'mezite_api_token', url: where, source: 'content' }, { token: leaked.access_token, type: 'mezite_api_token', url: where, source: 'content' }]);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-request-id')).toBeTruthy();
    expect(await r.json()).toEqual([
      { token_hash: sha(forged), token_type: 'mezite_api_token', label: 'false_positive' },
      { token_hash: sha(leaked.access_token), token_type: 'mezite_api_token', label: 'true_positive' },
    ]);
    for (const t of [leaked.access_token, successor.plaintext]) expect((await asToken(t, ['whoami'])).stderr).toMatch(/Unauthenticated/);
    expect((await asToken(sibling.access_token, ['whoami'])).code).toBe(0);

    const audit = json<{ items: Array<{ type: string; result: string; target: string; details: Record<string, string> }> }>(await runBin('mezctl', ['audit', 'ls', '--output', 'json', '--limit', '1000'], { env: stack.cliEnv }));
    const leak = audit.items.filter((e) => e.type === 'token.leak_revoke');
    expect(leak.map((e) => [e.result, e.target])).toEqual(expect.arrayContaining([['requested', `token:${leaked.id}`], ['success', `token:${leaked.id}`]]));
    expect(leak.find((e) => e.result === 'success')?.details).toMatchObject({ found_at: where, found_in: 'content' });
    expect(JSON.stringify(audit)).not.toContain(leaked.access_token);

    // Reported again (GitHub retries): now an already-dead token, false_positive, nothing else changes.
    expect(await (await report([{ token: leaked.access_token }])).json()).toEqual([{ token_hash: sha(leaked.access_token), token_type: 'mezite_api_token', label: 'false_positive' }]);
  });

  test('a report that is not the program\'s shape is 400, a body over 128 KiB is 413, and neither revokes anything', async () => {
    const t = await signIn();
    const bad = await fetch(`${stack.httpUrl}/v1/secret-scanning/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: t.access_token }) });
    expect(bad.status).toBe(400);
    const big = await fetch(`${stack.httpUrl}/v1/secret-scanning/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ token: t.access_token, url: 'x'.repeat(140 * 1024) }]) });
    expect(big.status).toBe(413);
    expect((await asToken(t.access_token, ['whoami'])).code).toBe(0);
  });
});
