import { readFileSync } from 'node:fs';
import { runBin } from '../harness/cli';
import { TestStack } from '../harness/test-stack';

/**
 * The bootstrap admin session through the real stack and CLI: restarts of the
 * auth-server keep one session (the identity file keeps working), `mezctl sessions
 * bootstrap` lists it, and `mezctl sessions revoke-bootstrap` ends it.
 */
describe('one bootstrap admin session, listed and revocable', () => {
  let stack: TestStack;
  const mezctl = (...args: string[]) => runBin('mezctl', args, { env: stack.cliEnv });
  const token = () => (JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')) as { token: string }).token;
  beforeAll(async () => {
    stack = await TestStack.start();
  }, 120_000);
  afterAll(async () => stack?.destroy());

  test('two auth-server starts leave one bootstrap session; the CLI lists it and revokes it', async () => {
    const first = token();
    const list = async () => JSON.parse((await mezctl('sessions', 'bootstrap', '-o', 'json')).stdout) as { items: Array<{ id: string; principal: string }> };
    const before = await list();
    expect(before.items).toHaveLength(1);
    await stack.killService('auth-server');
    await stack.startStopped();
    expect(token()).toBe(first);
    expect((await list()).items).toEqual(before.items);

    const r = await mezctl('sessions', 'revoke-bootstrap');
    expect(r).toMatchObject({ code: 0, stdout: 'Revoked 1 bootstrap session\n' });
    const after = await mezctl('whoami');
    expect(after.code).not.toBe(0);
    expect(after.stderr).toMatch(/Unauthenticated/);
  }, 120_000);
});
