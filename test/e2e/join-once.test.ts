import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createMeziteClients, publicChannelCredentials } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { formatPublicKey } from '@mezite/ssh';
import { runBin } from '../harness/cli';
import { TestStack } from '../harness/test-stack';

/** One-time redemption through the real stack: 100 concurrent joins with one token, exactly one certificate. */
describe('join tokens are redeemed exactly once', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await TestStack.start();
    const dir = stack.dataDir;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${dir}/role.yaml`, 'kind: role\nmetadata:\n  name: r\nspec:\n  allow:\n    logins: [deploy]\n');
    const c = await runBin('mezctl', ['create', '-f', `${dir}/role.yaml`], { env: stack.cliEnv });
    expect(c.stderr).toBe('');
  }, 120_000);
  afterAll(async () => stack?.destroy());

  test('100 concurrent joins with one token: one success, 99 identical refusals', async () => {
    const add = await runBin('mezctl', ['bots', 'add', '--name=racer', '--roles=r', '--output', 'json'], { env: stack.cliEnv });
    const token = (JSON.parse(add.stdout) as { join_token: string }).join_token;
    const ca = (JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')) as { ca_cert: string }).ca_cert;
    const clients = createMeziteClients({ address: `localhost:${stack.ports.auth}`, credentials: publicChannelCredentials(ca), peerName: 'auth server' });
    try {
      const join = clients.create(authv1.JoinServiceDefinition);
      const key = formatPublicKey(generateKeyPairSync('ed25519').publicKey);
      const results = await Promise.allSettled(Array.from({ length: 100 }, () => join.join({ joinToken: token, publicKey: key, requestedTtlSeconds: 600 })));
      const ok = results.filter((r) => r.status === 'fulfilled');
      const refusals = new Set(results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => `${(r.reason as { code: string }).code}: ${(r.reason as Error).message}`));
      expect(ok).toHaveLength(1);
      expect([...refusals]).toEqual(['Unauthenticated: invalid join token']);
      const show = await runBin('mezctl', ['bots', 'show', 'racer', '--output', 'json'], { env: stack.cliEnv });
      expect(JSON.parse(show.stdout)).toMatchObject({ generation: 1 });
    } finally {
      clients.close();
    }
  }, 60_000);
});
