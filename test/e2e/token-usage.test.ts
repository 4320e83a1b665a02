import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createMeziteClients, Metadata, publicChannelCredentials, type MeziteClients } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { runBin, type CliResult } from '../harness/cli';
import { runAsMachine, runWithToken } from '../harness/machine-cli';
import { TestStack } from '../harness/test-stack';

/**
 * Issue 16, "who still uses a token": during a rotation overlap the old token is
 * presented from two sources (127.0.0.1 directly, and 127.0.0.2 through a loopback
 * relay that connects from that address) with two user agents; `identity-tokens list`
 * and `usage` show both, `rotate --finish` is refused while it is in use and accepted
 * with `--force`, and the old token is refused from then on. Against the real stack.
 */
describe('who still uses a rotated API token', () => {
  let stack: TestStack;
  let relay: Server;
  const sockets = new Set<Socket>();
  const opened: MeziteClients[] = [];
  const asToken = (token: string, args: string[]): Promise<CliResult> => runWithToken(stack.httpUrl, token, args);
  const json = <T>(r: CliResult): T => {
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    return JSON.parse(r.stdout) as T;
  };
  /** WhoAmI with `token` from `port` (the auth server's, or the relay's) with a user agent of its own. */
  const presenter = (port: number, userAgent: string) => {
    const ca = (JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')) as { ca_cert: string }).ca_cert;
    const clients = createMeziteClients({ address: `localhost:${port}`, credentials: publicChannelCredentials(ca), peerName: 'auth server', channelOptions: { 'grpc.primary_user_agent': userAgent } });
    opened.push(clients);
    const identity = clients.create(authv1.IdentityServiceDefinition);
    return (token: string) => identity.whoAmI({}, { metadata: Metadata({ authorization: `Bearer ${token}` }) });
  };
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    stack = await TestStack.start();
    // A relay on 127.0.0.1 whose upstream connection comes from 127.0.0.2: the auth
    // server sees that second source address (loopback accepts all of 127/8).
    relay = createServer((client) => {
      const upstream = connect({ port: stack.ports.auth, host: '127.0.0.1', localAddress: '127.0.0.2' });
      for (const x of [client, upstream]) {
        sockets.add(x);
        x.on('error', () => undefined);
        x.on('close', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  }, 120_000);
  afterAll(async () => {
    for (const c of opened) c.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => relay?.close(r));
    await stack?.destroy();
  });

  test('the old token presented from two sources during the overlap: list and usage show both; --finish refused while in use, then forced; the old token is refused after', async () => {
    const svc = json<{ client_id: string; client_secret: string }>(await runBin('mezctl', ['service-identities', 'add', '--name', 'usage-bot', '--output', 'json'], { env: stack.cliEnv }));
    const old = json<{ access_token: string; id: string }>(
      await runAsMachine(stack.httpUrl, ['identity-tokens', 'issue-service', '--client-id', svc.client_id, '--grant-type', 'client_credentials', '--client-secret', svc.client_secret, '--output', 'json']),
    );
    const rotated = json<{ plaintext: string; id: string; old_token_users: unknown[] }>(await asToken(old.access_token, ['identity-tokens', 'rotate', '--id', old.id, '--output', 'json']));
    // The machine rotating its own token is not "someone else still using it".
    expect(rotated.old_token_users).toEqual([]);

    const direct = presenter(stack.ports.auth, 'deploy-bot/1.4');
    const relayed = presenter((relay.address() as AddressInfo).port, 'nightly-job/2.0');
    // Each presentation a little apart, so no auth-server verification lease (1 s) absorbs it.
    for (let i = 0; i < 2; i++) {
      await direct(old.access_token);
      await pause(1200);
      await relayed(old.access_token);
      await pause(1200);
    }

    const text = await asToken(rotated.plaintext, ['identity-tokens', 'list']);
    expect(text.stderr).toBe('');
    const line = text.stdout.split('\n').find((l) => l.startsWith(`old token ${old.id} used `));
    expect(line).toMatch(/ in the last hour from /);
    expect(line).toContain('127.0.0.1 (deploy-bot/1.4');
    expect(line).toContain('127.0.0.2 (nightly-job/2.0');

    type Usage = { source: string; client: string; count: number; first_seen: string; last_seen: string };
    const listed = json<{ items: Array<{ id: string; last_used_at: string | null; recent_users?: Usage[] }> }>(await asToken(rotated.plaintext, ['identity-tokens', 'list', '--output', 'json']));
    const oldItem = listed.items.find((t) => t.id === old.id);
    expect(oldItem?.last_used_at).toMatch(/Z$/);
    const users = (oldItem?.recent_users ?? []).map((u) => [u.source, u.client.split(' ')[0]]);
    expect(users).toEqual(expect.arrayContaining([['127.0.0.1', 'deploy-bot/1.4'], ['127.0.0.2', 'nightly-job/2.0']]));

    const usage = json<{ id: string; last_used_at: string; items: Usage[] }>(await asToken(rotated.plaintext, ['identity-tokens', 'usage', '--id', old.id, '--output', 'json']));
    const bySource = (s: string, c: string) => usage.items.find((u) => u.source === s && u.client.startsWith(c));
    expect(bySource('127.0.0.1', 'deploy-bot/1.4')?.count).toBeGreaterThanOrEqual(1);
    expect(bySource('127.0.0.2', 'nightly-job/2.0')?.count).toBeGreaterThanOrEqual(1);
    const table = await asToken(rotated.plaintext, ['identity-tokens', 'usage', '--id', old.id]);
    expect(table.stdout.split('\n')[0]).toMatch(/^HOUR\s+SOURCE\s+CLIENT\s+COUNT\s+FIRST_SEEN\s+LAST_SEEN$/);
    expect(table.stdout).toContain('127.0.0.2');

    const refused = await asToken(rotated.plaintext, ['identity-tokens', 'rotate', '--finish', '--id', old.id]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/^plexctl: Failed precondition: the old token was used \d+ times in the last 10 minutes, most from 127\.0\.0\.[12] .*--force/);
    await direct(old.access_token); // still works: nothing was finished

    const forced = await asToken(rotated.plaintext, ['identity-tokens', 'rotate', '--finish', '--id', old.id, '--force']);
    expect({ code: forced.code, stderr: forced.stderr, stdout: forced.stdout }).toEqual({ code: 0, stderr: '', stdout: `rotation finished: token ${old.id} no longer works\n` });
    // At once, through both paths, and the caches (lease, verifier) do not keep it alive.
    await expect(direct(old.access_token)).rejects.toMatchObject({ code: 'Unauthenticated' });
    await expect(relayed(old.access_token)).rejects.toMatchObject({ code: 'Unauthenticated' });
    expect((await asToken(old.access_token, ['whoami'])).stderr).toMatch(/Unauthenticated/);
    expect((await asToken(rotated.plaintext, ['whoami'])).code).toBe(0);
  }, 90_000);
});
