import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMeziteClients, Metadata, publicChannelCredentials } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { runBin } from '../harness/cli';
import { TestStack } from '../harness/test-stack';

const MESSAGE = 'a caller authenticated via an API token cannot mint another API token; sign in interactively to issue tokens';

/** Seed 000's wall holds on every path: the CLI, the gRPC API itself, and HTTP. */
describe('anti-escalation: an API token cannot mint API tokens', () => {
  let stack: TestStack;
  let token: string;
  let subject: string;

  beforeAll(async () => {
    stack = await TestStack.start();
    const work = mkdtempSync(join(tmpdir(), 'mezite-escalation-'));
    const env = { PLEXSPHERE_URL: stack.httpUrl, MEZITE_IDENTITY: '', MEZITE_DATA_DIR: work, MEZITE_AUTH_SERVER: '' };
    const r = await runBin('plexctl', ['identity-tokens', 'issue-service', '--client-id', 'svc-deployer', '--grant-type', 'client_credentials', '--client-secret', 'svc-deployer-demo-secret', '--output', 'json'], { env, cwd: work });
    token = (JSON.parse(r.stdout) as { access_token: string }).access_token;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(work, 't'), token);
    subject = (JSON.parse((await runBin('plexctl', ['whoami', '--token-file', join(work, 't'), '--output', 'json'], { env, cwd: work })).stdout) as { subject: string }).subject;
  }, 120_000);
  afterAll(async () => stack?.destroy());

  test('gRPC: IssueToken with an API token is PERMISSION_DENIED with the seed message, for itself and for others', async () => {
    const ca = (JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')) as { ca_cert: string }).ca_cert;
    const clients = createMeziteClients({ address: `localhost:${stack.ports.auth}`, credentials: publicChannelCredentials(ca), peerName: 'auth server' });
    try {
      const api = clients.create(authv1.IdentityTokenServiceDefinition);
      const metadata = Metadata({ authorization: `Bearer ${token}` });
      for (const ref of [`service:${subject}`, 'user:00000000-0000-4000-8000-000000000000']) {
        const err = await api.issueToken({ identityRef: ref, envPrefix: 'live', ttlSeconds: 0 }, { metadata }).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'PermissionDenied', message: MESSAGE });
      }
    } finally {
      clients.close();
    }
  });

  test('HTTP: the token endpoint does not take an API token as client credentials', async () => {
    const res = await fetch(`${stack.httpUrl}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
  });
});
