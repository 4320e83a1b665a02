import * as oauth from 'oauth4webapi';
import { runAsMachine, whoamiWithToken } from '../harness/machine-cli';
import { ExternalOAuth2Server } from '../harness/oidc-provider';
import { TestStack } from '../harness/test-stack';

/**
 * A tenant whose machines sign in at an external OAuth2 server: a real one from npm
 * (oidc-provider, client_credentials enabled) in a process of its own. Mezite runs the
 * client_credentials grant there with the caller's credentials and, if that server
 * issues a bearer token, issues its own API token for the tenant's service identity.
 */
const CLIENT_ID = 'ci-client';
// Spaces on purpose: client_secret_basic form-encodes credentials (RFC 6749 §2.3.1).
const SECRET = 'a long external secret for ci-client, with spaces';
const TOKEN = /^psk_live_[0-9A-Za-z]{28}$/;
const insecure = { [oauth.allowInsecureRequests]: true } as const;

describe('external machine identity provider (oidc-provider) for tenant acme', () => {
  let idp: ExternalOAuth2Server;
  let stack: TestStack;
  let tokenEndpoint: string;
  let mezite: oauth.AuthorizationServer;
  const client: oauth.Client = { client_id: CLIENT_ID };

  const issueService = (secret: string) =>
    runAsMachine(stack.httpUrl, ['identity-tokens', 'issue-service', '--client-id', CLIENT_ID, '--grant-type', 'client_credentials', '--client-secret', secret, '--output', 'json'], { timeoutMs: 30_000 });

  beforeAll(async () => {
    idp = await ExternalOAuth2Server.start({ clientId: CLIENT_ID, clientSecret: SECRET });
    const md = await idp.metadata();
    expect(md.grant_types_supported).toContain('client_credentials');
    tokenEndpoint = md.token_endpoint;
    const tenants = [{ domain: 'acme', machine_idp: { kind: 'oauth2', token_endpoint: tokenEndpoint }, service_identities: [{ name: 'ci', client_id: CLIENT_ID }] }];
    stack = await TestStack.start({ env: { MEZITE_TENANTS: JSON.stringify(tenants) } });
    const issuer = new URL(stack.httpUrl);
    mezite = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  }, 150_000);
  afterAll(async () => {
    await stack?.destroy();
    await idp?.stop();
  });

  test('the fixture: the external server itself grants client_credentials to ci-client (oauth4webapi, client_secret_basic)', async () => {
    const issuer = new URL(idp.issuer);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }));
    expect(as.token_endpoint).toBe(tokenEndpoint);
    const res = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(SECRET), new URLSearchParams(), insecure);
    const t = await oauth.processClientCredentialsResponse(as, client, res);
    expect(t.token_type).toBe('bearer');
    expect(t.access_token).not.toMatch(/^psk_/);
  });

  test('issue-service with the external secret returns a psk_live_ token for service ci, in a tenant other than svc-demo', async () => {
    const r = await issueService(SECRET);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const issued = JSON.parse(r.stdout) as { access_token: string; token_type: string };
    expect(issued.access_token).toMatch(TOKEN);
    expect(issued.token_type).toBe('Bearer');

    const who = await whoamiWithToken(stack.httpUrl, issued.access_token);
    expect(who.stderr).toBe('');
    expect(who.who?.principal).toBe('service');

    const demo = await runAsMachine(stack.httpUrl, ['identity-tokens', 'issue-service', '--client-id', 'svc-deployer', '--grant-type', 'client_credentials', '--client-secret', 'svc-deployer-demo-secret', '--output', 'json']);
    expect(demo.code).toBe(0);
    const demoWho = await whoamiWithToken(stack.httpUrl, (JSON.parse(demo.stdout) as { access_token: string }).access_token);
    expect(demoWho.who?.principal).toBe('service');
    expect(who.who?.domain).not.toBe(demoWho.who?.domain);
    expect(who.who?.subject).not.toBe(demoWho.who?.subject);
  });

  test('a wrong secret is refused as invalid client credentials, exit 1', async () => {
    const r = await issueService('not the external secret');
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('plexctl: Unauthenticated: invalid client credentials\n');
    expect(r.code).toBe(1);
    expect(idp.log).toContain('grant.error: invalid_client');
  });

  test("acme's secret does not work for the built-in demo client, nor the demo secret for ci-client", async () => {
    const a = await runAsMachine(stack.httpUrl, ['identity-tokens', 'issue-service', '--client-id', 'svc-deployer', '--grant-type', 'client_credentials', '--client-secret', SECRET, '--output', 'json']);
    expect(a.stderr).toBe('plexctl: Unauthenticated: invalid client credentials\n');
    const b = await issueService('svc-deployer-demo-secret');
    expect(b.stderr).toBe('plexctl: Unauthenticated: invalid client credentials\n');
  });

  test("Mezite's token endpoint with client_secret_post signs ci-client in through the external server", async () => {
    const t = await oauth.processClientCredentialsResponse(mezite, client, await oauth.clientCredentialsGrantRequest(mezite, client, oauth.ClientSecretPost(SECRET), new URLSearchParams(), insecure));
    expect(t.access_token).toMatch(TOKEN);
    expect((await whoamiWithToken(stack.httpUrl, t.access_token)).who?.principal).toBe('service');
  });

  test("Mezite's token endpoint with client_secret_basic, credentials form-encoded as RFC 6749 §2.3.1 says", async () => {
    const t = await oauth.processClientCredentialsResponse(mezite, client, await oauth.clientCredentialsGrantRequest(mezite, client, oauth.ClientSecretBasic(SECRET), new URLSearchParams(), insecure));
    expect(t.access_token).toMatch(TOKEN);
  });

  // /oauth2/revoke authenticates clients with their tenant's machine identity provider.
  test('ci-client revokes its own token at /oauth2/revoke (RFC 7009)', async () => {
    const t = await oauth.processClientCredentialsResponse(mezite, client, await oauth.clientCredentialsGrantRequest(mezite, client, oauth.ClientSecretPost(SECRET), new URLSearchParams(), insecure));
    await oauth.processRevocationResponse(await oauth.revocationRequest(mezite, client, oauth.ClientSecretPost(SECRET), t.access_token, insecure));
    expect((await whoamiWithToken(stack.httpUrl, t.access_token)).code).toBe(1);
  });

  // Runs last: it stops the external server.
  test('with the external server stopped, sign-in fails as Unavailable (not Unauthenticated, no hang)', async () => {
    await idp.stop();
    const r = await issueService(SECRET);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^plexctl: Unavailable: .+\n$/);
    expect(r.code).toBe(1);

    const res = await fetch(`${stack.httpUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: SECRET }),
      signal: AbortSignal.timeout(20_000),
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toBe('temporarily_unavailable');

    // The built-in tenant does not depend on it.
    const demo = await runAsMachine(stack.httpUrl, ['identity-tokens', 'issue-service', '--client-id', 'svc-deployer', '--grant-type', 'client_credentials', '--client-secret', 'svc-deployer-demo-secret', '--output', 'json']);
    expect(demo.code).toBe(0);
  });
});
