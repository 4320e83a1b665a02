import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyId } from '@mezite/identity';
import { createMeziteClients, publicChannelCredentials } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { formatPublicKey } from '@mezite/ssh';
import { runBin } from '../harness/cli';
import { TestStack } from '../harness/test-stack';

type Secrets = ReturnType<TestStack["secrets"]>;

/**
 * docs/OPERATIONS.md, "Rotate", on the real stack: every credential and CA key made under
 * the first peppers and KEK keeps working after a restart with new keys (the old ones
 * previous), is re-hashed or re-sealed as it is used, and keeps working once the old
 * keys are dropped; what was never used meanwhile is refused then.
 */
describe('rotating the peppers and the CA key-encryption key of a running stack', () => {
  let stack: TestStack;
  const work = mkdtempSync(join(tmpdir(), 'mezite-keys-'));
  afterAll(async () => stack?.destroy());

  const cli = (cmd: string, args: string[]) => runBin(cmd, args, { env: { PLEXSPHERE_URL: stack.httpUrl, MEZITE_IDENTITY: '', MEZITE_DATA_DIR: work }, cwd: work });
  const serviceToken = async () => {
    const r = await cli('plexctl', ['identity-tokens', 'issue-service', '--client-id', 'svc-deployer', '--grant-type', 'client_credentials', '--client-secret', 'svc-deployer-demo-secret', '--output', 'json']);
    expect(r.stderr).toBe('');
    return (JSON.parse(r.stdout) as { access_token: string }).access_token;
  };
  const whoami = async (token: string) => {
    writeFileSync(join(work, 't'), token);
    return cli('plexctl', ['whoami', '--token-file', join(work, 't')]);
  };
  const admin = (args: string[]) => runBin('mezctl', args, { env: stack.cliEnv });
  const adminToken = () => (JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')) as { token: string }).token;
  const joinToken = async (name: string) => {
    const r = await admin(['bots', 'add', `--name=${name}`, '--roles=r', '--output', 'json']);
    expect(r.stderr).toBe('');
    return (JSON.parse(r.stdout) as { join_token: string }).join_token;
  };
  const join_ = async (token: string) => {
    const ca = (JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')) as { ca_cert: string }).ca_cert;
    const clients = createMeziteClients({ address: `localhost:${stack.ports.auth}`, credentials: publicChannelCredentials(ca), peerName: 'auth server' });
    try {
      return await clients.create(authv1.JoinServiceDefinition).join({ joinToken: token, publicKey: formatPublicKey(generateKeyPairSync('ed25519').publicKey), requestedTtlSeconds: 600 });
    } finally {
      clients.close();
    }
  };
  const userCa = async () => (await admin(['ca', 'export', '--type=user'])).stdout;
  const restart = async (secrets: Secrets, env: NodeJS.ProcessEnv) => {
    const { dataDir, ports } = stack;
    expect(await stack.stop()).toBe(0);
    writeFileSync(join(dataDir, 'secrets.json'), JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
    stack = await TestStack.start({ dataDir, ports, env });
  };
  const keys = async (service: string, env: Record<string, string>) => {
    const r = await runBin('mezite-keys', [service, 'status', '--json'], { env: { DATABASE_URL: stack.status().databaseUrl ?? '', ...env } });
    expect(r.stderr).toBe('');
    return (JSON.parse(r.stdout) as Record<string, Array<{ stillNeeded: string[]; droppable: string[] }>>)[service]?.[0];
  };

  test('made under A, used under B with A previous, still working under B alone', async () => {
    stack = await TestStack.start();
    writeFileSync(join(stack.dataDir, 'role.yaml'), 'kind: role\nmetadata:\n  name: r\nspec:\n  allow:\n    logins: [deploy]\n');
    expect((await admin(['create', '-f', join(stack.dataDir, 'role.yaml')])).stderr).toBe('');
    const a = stack.secrets();
    const used = await serviceToken();
    const unused = await serviceToken();
    const session = adminToken();
    const joinLater = await joinToken('joins-after-rotation');
    const neverJoins = await joinToken('never-joins');
    const ca = await userCa();
    expect(ca).toMatch(/^ecdsa-sha2-nistp256 /);

    // Swap: B current, A previous.
    const b: Secrets = { ...a, token_pepper: randomBytes(32).toString('base64'), session_pepper: randomBytes(32).toString('base64'), ca_kek: randomBytes(32).toString('base64') };
    await restart(b, { MEZITE_TOKEN_PEPPER_PREVIOUS: a.token_pepper, MEZITE_SESSION_PEPPER_PREVIOUS: a.session_pepper, MEZITE_CA_KEK_PREVIOUS: a.ca_kek });
    // The bootstrap admin session is re-minted under B (its secret is derived under the
    // current pepper); the one made under A is revoked, the new one works.
    const rotatedSession = adminToken();
    expect(rotatedSession).not.toBe(session);
    expect((await whoami(session)).stderr).toMatch(/Unauthenticated/);
    expect((await admin(['whoami'])).stdout).toMatch(/^user\s/m);
    expect((await whoami(used)).stdout).toMatch(/^service\s/m);
    expect(await serviceToken()).toMatch(/^psk_/); // the client secret set under A
    expect((await join_(joinLater)).generation).toBe(1);
    expect(await userCa()).toBe(ca); // the same CA, re-sealed under B
    const tokenStatus = await keys('token-service', { MEZITE_TOKEN_PEPPER: b.token_pepper, MEZITE_TOKEN_PEPPER_PREVIOUS: a.token_pepper });
    expect(tokenStatus?.stillNeeded).toEqual([keyId(Buffer.from(a.token_pepper, 'base64'))]); // `unused` is still under A
    expect((await keys('ssh-ca', { MEZITE_CA_KEK: b.ca_kek, MEZITE_CA_KEK_PREVIOUS: a.ca_kek }))?.droppable).toEqual([keyId(Buffer.from(a.ca_kek, 'base64'))]);

    // Drop A.
    await restart(b, {});
    expect(adminToken()).toBe(rotatedSession);
    expect((await whoami(used)).stdout).toMatch(/^service\s/m);
    expect(await serviceToken()).toMatch(/^psk_/);
    expect(await userCa()).toBe(ca);
    expect((await join_(await joinToken('joins-under-b'))).generation).toBe(1); // ssh-ca signs with the re-sealed key
    // Never used while A was previous: refused now, as the docs say.
    expect((await whoami(unused)).stderr).toMatch(/Unauthenticated/);
    await expect(join_(neverJoins)).rejects.toMatchObject({ code: 'Unauthenticated' });
  }, 300_000);
});
