import { runBin } from '../harness/cli';
import { TestStack } from '../harness/test-stack';

/**
 * Issue 16, explained decisions: a refused caller quotes its request id (the
 * `x-request-id` every answer carries) and `mezctl audit explain` says what happened to
 * that request and why, from the audit log of the real stack.
 */
describe('mezctl audit explain REQUEST_ID', () => {
  let stack: TestStack;
  const mezctl = (args: string[]) => runBin('mezctl', args, { env: stack.cliEnv });
  beforeAll(async () => {
    stack = await TestStack.start();
  }, 120_000);
  afterAll(async () => stack?.destroy());

  test('a refused client_credentials grant: the answer names only its request id; explain gives the reason', async () => {
    // A service of the admin's own tenant (an admin reads only its tenant's records).
    const svc = JSON.parse((await mezctl(['service-identities', 'add', '--name', 'refused-one', '--output', 'json'])).stdout) as { client_id: string };
    const res = await fetch(`${stack.httpUrl}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${svc.client_id}:wrong`).toString('base64')}` }, body: 'grant_type=client_credentials' });
    expect(res.status).toBe(401);
    const id = res.headers.get('x-request-id') ?? '';
    expect(id).not.toBe('');
    const text = await mezctl(['audit', 'explain', id]);
    expect(text.stderr).toBe('');
    expect(text.stdout).toMatch(new RegExp(`^Request ${id}: refused: \\S`));
    const json = JSON.parse((await mezctl(['audit', 'explain', id, '--output', 'json'])).stdout) as { outcome: string; reason: string; events: Array<{ request_id: string; result: string }> };
    expect(json).toMatchObject({ outcome: 'refused', reason: expect.any(String) });
    expect(json.events.length).toBeGreaterThan(0);
    expect(json.events.every((e) => e.request_id === id)).toBe(true);
  });

  test('an admin action: requested, then success, under one id', async () => {
    const added = await runBin('mezctl', ['service-identities', 'add', '--name', 'explained', '--output', 'json'], { env: stack.cliEnv });
    expect(added.code).toBe(0);
    const ls = JSON.parse((await mezctl(['audit', 'ls', '--type', 'service_identity.create', '--output', 'json'])).stdout) as { items: Array<{ request_id: string }> };
    const id = ls.items[0]?.request_id ?? '';
    const json = JSON.parse((await mezctl(['audit', 'explain', id, '--output', 'json'])).stdout) as { outcome: string; events: Array<{ result: string }> };
    expect(json.outcome).toBe('succeeded');
    expect(json.events.map((e) => e.result)).toEqual(['requested', 'success']);
  });

  test('an id nobody used is NotFound', async () => {
    expect((await mezctl(['audit', 'explain', 'no-such-request'])).stderr).toMatch(/^mezctl: Not found: no audit record of request no-such-request/);
  });
});
