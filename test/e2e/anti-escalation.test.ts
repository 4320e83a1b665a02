import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMeziteClients, Metadata, publicChannelCredentials } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { runBin } from '../harness/cli';
import { signInDemo } from '../harness/sign-in';
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

/**
 * An admin person signs in interactively and mints an API token for itself. That token
 * must not yield another credential by any path: not a service identity's secret (then
 * client_credentials), not a rotated secret, not a token for itself or others, not a
 * rotation of another token, not a session, and not the OAuth2 endpoints' admin powers.
 * Each attack is checked by its effect, not only by its status.
 */
describe("anti-escalation: an admin person's API token yields no other credential", () => {
  let stack: TestStack;
  let clients: ReturnType<typeof createMeziteClients>;
  let apiToken: string;
  let apiTokenId: string;
  let siblingId: string;
  let userId: string;
  let svc: { clientId: string; secret: string };
  let session: string;
  const asSession = () => Metadata({ authorization: `Bearer ${session}` });
  const asToken = () => Metadata({ authorization: `Bearer ${apiToken}` });
  const clientCredentials = (clientId: string, secret: string) =>
    fetch(`${stack.httpUrl}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }) });
  const denied = async (call: Promise<unknown>) => expect(await call.then(() => 'allowed', (e: { code?: string }) => e.code)).toBe('PermissionDenied');

  beforeAll(async () => {
    stack = await TestStack.start();
    ({ sessionToken: session, userId } = await signInDemo(stack, mkdtempSync(join(tmpdir(), 'mezite-escalation-admin-'))));
    const ca = (JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')) as { ca_cert: string }).ca_cert;
    clients = createMeziteClients({ address: `localhost:${stack.ports.auth}`, credentials: publicChannelCredentials(ca), peerName: 'auth server' });
    const tokens = clients.create(authv1.IdentityTokenServiceDefinition);
    const minted = await tokens.issueToken({ identityRef: `user:${userId}`, envPrefix: 'live', ttlSeconds: 0 }, { metadata: asSession() });
    apiToken = minted.accessToken;
    apiTokenId = minted.id;
    siblingId = (await tokens.issueToken({ identityRef: `user:${userId}`, envPrefix: 'live', ttlSeconds: 0 }, { metadata: asSession() })).id;
    const created = await clients.create(authv1.ServiceIdentityServiceDefinition).createServiceIdentity({ name: 'svc-escalation-target', clientId: 'svc-escalation-target' }, { metadata: asSession() });
    svc = { clientId: 'svc-escalation-target', secret: created.clientSecret };
    expect((await clientCredentials(svc.clientId, svc.secret)).status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    clients?.close();
    await stack?.destroy();
  });

  test('the session is an admin, the API token is the same person (so the denials below are the token rule, not a missing grant)', async () => {
    const ids = clients.create(authv1.ServiceIdentityServiceDefinition);
    expect((await ids.listServiceIdentities({ pageSize: 100, pageToken: '' }, { metadata: asSession() })).serviceIdentities.map((s) => s.name)).toContain('svc-escalation-target');
    expect((await clients.create(authv1.IdentityServiceDefinition).whoAmI({}, { metadata: asToken() })).subject).toBe(userId);
  });

  test('CreateServiceIdentity with the API token is PermissionDenied, and no identity or client secret comes to exist', async () => {
    const ids = clients.create(authv1.ServiceIdentityServiceDefinition);
    const err = await ids.createServiceIdentity({ name: 'svc-escalated', clientId: 'svc-escalated' }, { metadata: asToken() }).catch((e: unknown) => e);
    // Refused for the credential it came with, not for a role it happens to lack.
    expect(err).toMatchObject({ code: 'PermissionDenied', message: 'a caller authenticated via an API token may not create service identities; sign in interactively' });
    const names = (await ids.listServiceIdentities({ pageSize: 100, pageToken: '' }, { metadata: asSession() })).serviceIdentities.map((s) => s.name);
    expect(names).not.toContain('svc-escalated');
    expect((await clientCredentials('svc-escalated', apiToken)).status).toBe(401);
  });

  test('RotateServiceIdentitySecret with the API token is PermissionDenied, and the old secret still works (nothing was rotated)', async () => {
    const ids = clients.create(authv1.ServiceIdentityServiceDefinition);
    for (const revokeTokens of [false, true]) {
      const err = await ids.rotateServiceIdentitySecret({ name: 'svc-escalation-target', revokeTokens }, { metadata: asToken() }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PermissionDenied', message: 'a caller authenticated via an API token may not rotate client secrets; sign in interactively' });
    }
    expect((await clientCredentials(svc.clientId, svc.secret)).status).toBe(200);
  });

  test('IssueToken with the API token is PermissionDenied with the seed message, for the person and for a service', async () => {
    const tokens = clients.create(authv1.IdentityTokenServiceDefinition);
    const svcId = (await clients.create(authv1.ServiceIdentityServiceDefinition).listServiceIdentities({ pageSize: 100, pageToken: '' }, { metadata: asSession() })).serviceIdentities.find((s) => s.name === 'svc-escalation-target')?.id;
    for (const ref of [`user:${userId}`, `service:${svcId}`]) {
      const err = await tokens.issueToken({ identityRef: ref, envPrefix: 'live', ttlSeconds: 0 }, { metadata: asToken() }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PermissionDenied', message: MESSAGE });
    }
  });

  test("RotateToken with the API token cannot rotate the person's other token", async () => {
    const tokens = clients.create(authv1.IdentityTokenServiceDefinition);
    await denied(tokens.rotateToken({ id: siblingId }, { metadata: asToken() }));
    const after = await tokens.listTokens({ pageSize: 100, pageToken: '' }, { metadata: asSession() });
    expect(after.tokens.map((t) => t.id).sort()).toEqual([apiTokenId, siblingId].sort());
  });

  test('CreateSession does not take the API token, as a bearer or as an ID token', async () => {
    const sessions = clients.create(authv1.SessionServiceDefinition);
    const r = await sessions.createSession({ idToken: apiToken, nonce: 'n', tenant: '' }, { metadata: asToken() }).then((x) => `session ${x.sessionToken.slice(0, 4)}`, (e: { code?: string }) => e.code);
    expect(['InvalidArgument', 'Unauthenticated']).toContain(r);
  });

  test('OAuth2: the API token is no client secret, no introspection bearer, and cannot revoke a service token', async () => {
    const svcToken = ((await (await clientCredentials(svc.clientId, svc.secret)).json()) as { access_token: string }).access_token;
    const basic = await fetch(`${stack.httpUrl}/oauth2/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${svc.clientId}:${apiToken}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    expect(basic.status).toBe(401);
    const introspect = (bearer: string) => fetch(`${stack.httpUrl}/oauth2/introspect`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: svcToken }) });
    const byToken = await introspect(apiToken);
    expect([byToken.status, ((await byToken.json()) as { error?: string }).error]).toEqual([401, 'invalid_token']);
    const revoke = await fetch(`${stack.httpUrl}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: svcToken, client_id: svc.clientId, client_secret: apiToken }) });
    expect(revoke.status).toBe(401);
    // The admin session may introspect: the service token is still active.
    const bySession = await introspect(session);
    expect(((await bySession.json()) as { active: boolean }).active).toBe(true);
  });

  test('nor does it create bots or nodes (their join tokens are credentials too)', async () => {
    await denied(clients.create(authv1.BotServiceDefinition).createBot({ name: 'bot-escalated', roles: [], tokenTtlSeconds: 0, maxCertificateTtlSeconds: 0 }, { metadata: asToken() }));
    await denied(clients.create(authv1.NodeServiceDefinition).addNode({ name: 'node-escalated', addr: '127.0.0.1:22', labels: {}, tokenTtlSeconds: 0 }, { metadata: asToken() }));
  });
});
