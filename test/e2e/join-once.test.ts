import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createMeziteClients, publicChannelCredentials, type MeziteClient, type MeziteClients } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { formatPublicKey } from '@mezite/ssh';
import { runBin } from '../harness/cli';
import { TestStack } from '../harness/test-stack';

/**
 * One-time redemption through the real stack: 100 concurrent joins with one token. The
 * same key again is a retry of the join (its answer may have been lost) and gets the
 * same certificate; any other key is refused. Either way one certificate, one instance.
 */
describe('join tokens are redeemed exactly once', () => {
  let stack: TestStack;
  let clients: MeziteClients;
  let join: MeziteClient<typeof authv1.JoinServiceDefinition>;
  beforeAll(async () => {
    stack = await TestStack.start();
    const dir = stack.dataDir;
    writeFileSync(`${dir}/role.yaml`, 'kind: role\nmetadata:\n  name: r\nspec:\n  allow:\n    logins: [deploy]\n');
    const c = await runBin('mezctl', ['create', '-f', `${dir}/role.yaml`], { env: stack.cliEnv });
    expect(c.stderr).toBe('');
    const ca = (JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')) as { ca_cert: string }).ca_cert;
    clients = createMeziteClients({ address: `localhost:${stack.ports.auth}`, credentials: publicChannelCredentials(ca), peerName: 'auth server' });
    join = clients.create(authv1.JoinServiceDefinition);
  }, 120_000);
  afterAll(async () => {
    clients?.close();
    await stack?.destroy();
  });

  const addBot = async (name: string) => {
    const add = await runBin('mezctl', ['bots', 'add', `--name=${name}`, '--roles=r', '--output', 'json'], { env: stack.cliEnv });
    expect(add.stderr).toBe('');
    return (JSON.parse(add.stdout) as { join_token: string }).join_token;
  };
  const newKey = () => formatPublicKey(generateKeyPairSync('ed25519').publicKey);
  const show = async (name: string) => JSON.parse((await runBin('mezctl', ['bots', 'show', name, '--output', 'json'], { env: stack.cliEnv })).stdout) as { generation: number };
  const failure = (r: PromiseSettledResult<unknown>) => (r.status === 'rejected' ? `${(r.reason as { code: string }).code}: ${(r.reason as Error).message}` : 'ok');

  test('100 concurrent joins with one token and 100 keys: one success, 99 identical refusals', async () => {
    const token = await addBot('racer');
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => join.join({ joinToken: token, publicKey: newKey(), requestedTtlSeconds: 600 })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect([...new Set(results.filter((r) => r.status === 'rejected').map(failure))]).toEqual(['Unauthenticated: invalid join token']);
    expect(await show('racer')).toMatchObject({ generation: 1 });
  }, 60_000);

  test('100 concurrent joins with one token and one key: all get the same certificate of one instance', async () => {
    const token = await addBot('retrier');
    const key = newKey();
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => join.join({ joinToken: token, publicKey: key, requestedTtlSeconds: 600 })));
    expect([...new Set(results.map(failure))]).toEqual(['ok']);
    const answers = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(new Set(answers.map((a) => a.certificate)).size).toBe(1);
    expect(new Set(answers.map((a) => a.instanceId)).size).toBe(1);
    expect(answers[0]).toMatchObject({ generation: 1, botName: 'retrier', instanceId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(await show('retrier')).toMatchObject({ generation: 1 });
    // Spent for any other key.
    await expect(join.join({ joinToken: token, publicKey: newKey(), requestedTtlSeconds: 600 })).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid join token' });
  }, 60_000);
});
