import { generateApiToken } from '@mezite/identity';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeAuthServer } from '../fake-auth-server';
import { usedBy } from './identity-tokens';

const CLIENT = ['--client-id', 'svc-deployer', '--grant-type', 'client_credentials'];
const SECRET = 'svc-deployer-demo-secret';
const BANNER = '# WARNING: this is the only time this plaintext will be displayed\n';

/** Seed 000, each step against the fake server, run as `plexctl` as the seed does. */
describe('mezctl identity-tokens: seed 000, step by step', () => {
  let server: FakeAuthServer;
  let dir: string;
  let tokenFile: string;
  const plexctl = (argv: string[], env?: NodeJS.ProcessEnv) => server.run(argv, { prog: 'plexctl', ...(env ? { env } : {}) });
  let svcId: string;
  let tokenId: string;

  beforeAll(async () => {
    server = await FakeAuthServer.start();
    svcId = server.machine.addServiceIdentity('svc-deployer', SECRET).id;
    dir = mkdtempSync(join(tmpdir(), 'mezctl-tokens-'));
    tokenFile = join(dir, 'svc.token');
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('step 1: issue-service --output json is the token response, and sends no credential although an identity file is present', async () => {
    const r = await plexctl(['identity-tokens', 'issue-service', ...CLIENT, '--client-secret', SECRET, '--output', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const json = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(json).toEqual({ access_token: expect.stringMatching(/^psk_live_/), token_type: 'Bearer', expires_in: 86400, id: 'a0000000-0000-4000-8000-000000000002', expires_at: '2026-03-25T14:00:00Z' });
    expect(Object.keys(json)).toEqual(['access_token', 'token_type', 'expires_in', 'id', 'expires_at']);
    expect(server.calls).toEqual([{ method: 'IdentityTokenService.IssueServiceToken', request: { clientId: 'svc-deployer', clientSecret: SECRET, grantType: 'client_credentials' } }]);
    expect(server.machine.issueServiceAuthorizations).toEqual([undefined]);
    writeFileSync(tokenFile, json.access_token as string);
  });

  test('step 2: whoami with the machine token (the seed\'s table)', async () => {
    expect(await plexctl(['whoami', '--token-file', tokenFile])).toEqual({
      code: 0,
      stderr: '',
      stdout:
        'PRINCIPAL  SUBJECT                               DOMAIN                                ACR  AMR\n' +
        `service    ${svcId}  d0000000-0000-4000-8000-000000000000  -    -\n`,
    });
    const json = JSON.parse((await plexctl(['whoami', '--token-file', tokenFile, '--output', 'json'])).stdout);
    expect(json).toEqual({ principal: 'service', subject: svcId, domain: 'd0000000-0000-4000-8000-000000000000', acr: '', amr: [] });
  });

  test('step 3: list shows the one token the machine holds; .items[0].id is it', async () => {
    expect(await plexctl(['identity-tokens', 'list', '--token-file', tokenFile])).toEqual({
      code: 0,
      stderr: '',
      stdout:
        'ID                                    ENV   CREATED_AT            EXPIRES_AT            LAST_USED_AT  ROTATED_AT\n' +
        'a0000000-0000-4000-8000-000000000002  live  2026-03-24T14:00:00Z  2026-03-25T14:00:00Z  -             -\n',
    });
    const json = JSON.parse((await plexctl(['identity-tokens', 'list', '--token-file', tokenFile, '--output', 'json'])).stdout);
    expect(json).toEqual({
      items: [
        {
          id: 'a0000000-0000-4000-8000-000000000002',
          env: 'live',
          created_at: '2026-03-24T14:00:00Z',
          expires_at: '2026-03-25T14:00:00Z',
          last_used_at: null,
          rotated_at: null,
          rotation_deadline: null,
          identity_ref: `service:${svcId}`,
        },
      ],
    });
    tokenId = json.items[0].id;
  });

  test('step 4: a machine cannot mint a fresh token: Forbidden with the server\'s message, non-zero exit', async () => {
    const r = await plexctl(['identity-tokens', 'issue', '--identity-ref', `service:${svcId}`, '--env-prefix', 'dev', '--token-file', tokenFile]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'plexctl: Forbidden: a caller authenticated via an API token cannot mint another API token; sign in interactively to issue tokens\n' });
  });

  test('step 5: rotate prints the banner, the plaintext and the aligned fields', async () => {
    server.calls.length = 0;
    const r = await plexctl(['identity-tokens', 'rotate', '--id', tokenId, '--token-file', tokenFile]);
    const plaintext = server.machine.tokens[server.machine.tokens.length - 1]?.plaintext as string;
    expect(plaintext).toMatch(/^psk_live_/);
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout:
        BANNER +
        `${plaintext}\n` +
        '\n' +
        'id:                 a0000000-0000-4000-8000-000000000003\n' +
        'env_prefix:         live\n' +
        'expires_at:         2026-03-25T14:00:00Z\n' +
        'rotation_deadline:  2026-03-25T14:00:00Z\n',
    });
    expect(server.calls).toEqual([{ method: 'IdentityTokenService.RotateToken', request: { id: tokenId } }]);
    // Until the deadline both plaintexts work; the newest token is listed first.
    writeFileSync(join(dir, 'new.token'), plaintext);
    const list = await plexctl(['identity-tokens', 'list', '--token-file', join(dir, 'new.token')]);
    expect(list.stdout.split('\n').slice(1)).toEqual([
      'a0000000-0000-4000-8000-000000000003  live  2026-03-24T14:00:00Z  2026-03-25T14:00:00Z  -             -',
      'a0000000-0000-4000-8000-000000000002  live  2026-03-24T14:00:00Z  2026-03-25T14:00:00Z  -             2026-03-24T14:00:00Z',
      '',
    ]);
    expect((await plexctl(['whoami', '--token-file', tokenFile])).code).toBe(0);
  });

  test('step 6: delete prints nothing and exits 0; the token is refused from then on', async () => {
    expect(await plexctl(['identity-tokens', 'delete', '--id', tokenId, '--token-file', tokenFile])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await plexctl(['whoami', '--token-file', tokenFile])).toEqual({ code: 1, stdout: '', stderr: 'plexctl: Unauthenticated: invalid or expired credential\n' });
    // The identity itself is untouched: it can sign in again.
    const again = await plexctl(['identity-tokens', 'issue-service', ...CLIENT, '--client-secret', SECRET, '-o', 'json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ token_type: 'Bearer' });
  });
});

describe('mezctl identity-tokens', () => {
  let server: FakeAuthServer;
  let dir: string;
  beforeAll(async () => {
    server = await FakeAuthServer.start();
    server.machine.addServiceIdentity('svc-deployer', SECRET);
    dir = mkdtempSync(join(tmpdir(), 'mezctl-tokens-'));
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    server.calls.length = 0;
    server.machine.issueServiceAuthorizations.length = 0;
  });

  test('check tells offline whether a string is a Mezite API token, and why not; it calls nothing', async () => {
    const token = generateApiToken('live');
    expect(await server.run(['identity-tokens', 'check', token])).toEqual({ code: 0, stderr: '', stdout: expect.stringMatching(/^A well-formed Mezite API token \(live\): its checksum matches\./) });
    expect(JSON.parse((await server.run(['identity-tokens', 'check', generateApiToken('dev'), '-o', 'json'])).stdout)).toEqual({ valid: true, env: 'dev' });
    const typo = `${token.slice(0, 12)}${token[12] === 'a' ? 'b' : 'a'}${token.slice(13)}`;
    for (const [bad, why] of [
      [typo, 'its checksum does not match (a mistyped or made-up token)'],
      ['ghp_0123456789abcdefghijklmnopqrstuvwxyz', 'it does not start with psk_live_ or psk_dev_'],
      [`${token}x`, 'it is not 28 characters after the prefix'],
      [`${token.slice(0, -1)}-`, 'it holds characters other than 0-9, A-Z and a-z after the prefix'],
    ]) {
      expect(await server.run(['identity-tokens', 'check', bad as string])).toEqual({ code: 1, stdout: '', stderr: `mezctl: Invalid argument: not a Mezite API token: ${why}\n` });
    }
    expect(server.calls).toEqual([]);
  });

  test('usage prints a table and JSON; rotate --finish ends the overlap and --force needs --finish', async () => {
    const t = JSON.parse((await server.run(['identity-tokens', 'issue-service', ...CLIENT, '--client-secret', SECRET, '-o', 'json'])).stdout) as { access_token: string; id: string };
    const file = join(dir, 'usage.token');
    writeFileSync(file, t.access_token);
    const table = await server.run(['identity-tokens', 'usage', '--id', t.id, '--token-file', file]);
    expect(table).toEqual({ code: 0, stderr: '', stdout: expect.stringMatching(/^HOUR\s+SOURCE\s+CLIENT\s+COUNT\s+FIRST_SEEN\s+LAST_SEEN\n/) });
    expect(JSON.parse((await server.run(['identity-tokens', 'usage', '--id', t.id, '--token-file', file, '-o', 'json'])).stdout)).toEqual({ id: t.id, last_used_at: null, items: [] });
    expect(await server.run(['identity-tokens', 'rotate', '--id', t.id, '--force', '--token-file', file])).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining('--force goes with --finish') });
    await server.run(['identity-tokens', 'rotate', '--id', t.id, '--token-file', file]);
    expect(await server.run(['identity-tokens', 'rotate', '--finish', '--id', t.id, '--token-file', file])).toEqual({ code: 0, stderr: '', stdout: `rotation finished: token ${t.id} no longer works\n` });
    expect(server.calls.map((c) => c.method)).toContain('IdentityTokenService.FinishRotation');
  });

  test('the old-token line names the presenters, three at most', () => {
    const u = (source: string, client: string, count: number) => ({ hour: undefined, source, client, count, firstSeen: undefined, lastSeen: undefined });
    expect(usedBy([u('10.2.0.7', 'deploy-bot/1.4', 214)])).toBe('used 214 times in the last hour from 10.2.0.7 (deploy-bot/1.4)');
    expect(usedBy([u('a', '', 1)])).toBe('used 1 time in the last hour from a');
    expect(usedBy([u('a', 'x', 1), u('b', 'y', 1), u('c', 'z', 1), u('other', '', 5)])).toBe('used 8 times in the last hour from a (x), b (y), c (z), 1 more');
  });

  test('issue-service prints the plaintext once, in the short form', async () => {
    const r = await server.run(['identity-tokens', 'issue-service', ...CLIENT, '--client-secret', SECRET]);
    const t = server.machine.tokens[server.machine.tokens.length - 1];
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout: BANNER + `${t?.plaintext}\n\nid:                 ${t?.token.id}\nenv_prefix:         live\nexpires_at:         2026-03-25T14:00:00Z\n`,
    });
  });

  test('a client secret that starts with "-" is taken as the value of --client-secret, not as an option', async () => {
    const dashed = '-23BEWJdgHhSajIYqp-secret';
    server.machine.addServiceIdentity('svc-dashed', dashed);
    const r = await server.run(['identity-tokens', 'issue-service', '--client-id', 'svc-dashed', '--grant-type', 'client_credentials', '--client-secret', dashed, '--output', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ token_type: 'Bearer' });
  });

  test('issue-service works with only PLEXSPHERE_URL, no identity file at all', async () => {
    const ca = (JSON.parse(readFileSync(server.identityFile, 'utf8')) as { ca_cert: string }).ca_cert;
    const http: Server = createServer((req, res) => {
      if (req.url !== '/.well-known/mezite') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ auth_server: server.address, ca_cert: ca }));
    });
    await new Promise<void>((res) => http.listen(0, '127.0.0.1', res));
    try {
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      const r = await server.run(['identity-tokens', 'issue-service', ...CLIENT, '--client-secret', SECRET, '-o', 'json'], { env: { PLEXSPHERE_URL: url } });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toMatchObject({ token_type: 'Bearer' });
      expect(server.machine.issueServiceAuthorizations).toEqual([undefined]);
    } finally {
      http.close();
    }
  });

  test('issue-service never sends --token-file either', async () => {
    const r = await server.run(['identity-tokens', 'issue-service', ...CLIENT, '--client-secret', SECRET, '--token-file', join(dir, 'missing.token')]);
    expect(r.code).toBe(0);
    expect(server.machine.issueServiceAuthorizations).toEqual([undefined]);
  });

  test('--grant-type other than client_credentials is a usage error, and nothing is called', async () => {
    const r = await server.run(['identity-tokens', 'issue-service', '--client-id', 'svc-deployer', '--grant-type', 'password', '--client-secret', SECRET]);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'mezctl: Invalid argument: --grant-type: unsupported grant type "password"; only client_credentials is allowed\n' });
    const missing = await server.run(['identity-tokens', 'issue-service', '--client-id', 'svc-deployer', '--client-secret', SECRET]);
    expect(missing).toEqual({ code: 2, stdout: '', stderr: 'mezctl: Invalid argument: Missing required argument: grant-type\n' });
    expect(server.calls).toEqual([]);
  });

  test('the secret may come from --client-secret-file, standard input or MEZITE_CLIENT_SECRET', async () => {
    const file = join(dir, 'secret');
    writeFileSync(file, `${SECRET}\n`);
    const env = { MEZITE_IDENTITY: server.identityFile };
    expect((await server.run(['identity-tokens', 'issue-service', ...CLIENT, '--client-secret-file', file])).code).toBe(0);
    expect((await server.run(['identity-tokens', 'issue-service', ...CLIENT, '--client-secret-file', '-'], { stdin: `${SECRET}\n` })).code).toBe(0);
    expect((await server.run(['identity-tokens', 'issue-service', ...CLIENT], { env: { ...env, MEZITE_CLIENT_SECRET: SECRET } })).code).toBe(0);
    expect(server.calls.map((c) => (c.request as { clientSecret: string }).clientSecret)).toEqual([SECRET, SECRET, SECRET]);
  });

  test('no secret, an empty one, or two sources at once are usage errors', async () => {
    expect(await server.run(['identity-tokens', 'issue-service', ...CLIENT])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'mezctl: Invalid argument: no client secret: pass --client-secret-file FILE, set MEZITE_CLIENT_SECRET, or pass --client-secret\n',
    });
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(await server.run(['identity-tokens', 'issue-service', ...CLIENT, '--client-secret-file', empty])).toEqual({ code: 2, stdout: '', stderr: `mezctl: Invalid argument: the client secret from --client-secret-file ${empty} is empty\n` });
    const both = await server.run(['identity-tokens', 'issue-service', ...CLIENT, '--client-secret', SECRET, '--client-secret-file', empty]);
    expect(both).toEqual({ code: 2, stdout: '', stderr: 'mezctl: Invalid argument: Arguments client-secret and client-secret-file are mutually exclusive\n' });
    expect(server.calls).toEqual([]);
  });

  test('a wrong secret is the server\'s Unauthenticated', async () => {
    const r = await server.run(['identity-tokens', 'issue-service', ...CLIENT, '--client-secret', 'nope']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Unauthenticated: invalid client credentials\n' });
  });

  test('issue as a person: identity ref, env prefix and ttl go to the server; prints like issue-service', async () => {
    const ref = 'service:5e000000-0000-4000-8000-000000000001';
    const r = await server.run(['identity-tokens', 'issue', '--identity-ref', ref, '--env-prefix', 'dev', '--ttl', '30d']);
    const t = server.machine.tokens[server.machine.tokens.length - 1];
    expect(r).toEqual({ code: 0, stderr: '', stdout: BANNER + `${t?.plaintext}\n\nid:                 ${t?.token.id}\nenv_prefix:         dev\nexpires_at:         2026-04-23T14:00:00Z\n` });
    expect(t?.plaintext).toMatch(/^psk_dev_/);
    expect(server.calls).toEqual([{ method: 'IdentityTokenService.IssueToken', request: { identityRef: ref, envPrefix: 'dev', ttlSeconds: 2592000 } }]);
    server.calls.length = 0;
    const json = JSON.parse((await server.run(['identity-tokens', 'issue', '--identity-ref', ref, '--env-prefix', 'live', '-o', 'json'])).stdout);
    expect(json).toEqual({ access_token: expect.stringMatching(/^psk_live_/), token_type: 'Bearer', expires_in: 7776000, id: expect.any(String), expires_at: '2026-06-22T14:00:00Z' });
    expect(server.calls[0]?.request).toEqual({ identityRef: ref, envPrefix: 'live', ttlSeconds: 0 });
  });

  test('issue refuses a malformed identity ref, env prefix or ttl before any call (usage errors)', async () => {
    const base = ['identity-tokens', 'issue', '--identity-ref', 'service:5e000000-0000-4000-8000-000000000001', '--env-prefix', 'dev'];
    expect(await server.run(['identity-tokens', 'issue', '--identity-ref', 'bot:x', '--env-prefix', 'dev'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'mezctl: Invalid argument: invalid identity ref "bot:x": expected service:<uuid> or user:<uuid>\n',
    });
    expect(await server.run([...base, '--ttl', 'soon'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^mezctl: Invalid argument: --ttl: invalid duration "soon"; /) });
    expect(await server.run(['identity-tokens', 'issue', '--identity-ref', 'user:u', '--env-prefix', 'prod'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^mezctl: Invalid argument: Invalid values: Argument: env-prefix, Given: "prod", Choices: "live", "dev"\n$/) });
    expect(server.calls).toEqual([]);
  });

  test('list shows last use and rotation times, RFC 3339 without fractions; rotate -o json', async () => {
    const t = server.machine.mint('user:u-1', 'dev', 3600);
    Object.assign(t.token, { lastUsedTime: new Date('2026-03-24T14:05:06.789Z') });
    const table = await server.run(['identity-tokens', 'ls']);
    expect(table.stdout).toBe(
      'ID                                    ENV  CREATED_AT            EXPIRES_AT            LAST_USED_AT          ROTATED_AT\n' +
        `${t.token.id}  dev  2026-03-24T14:00:00Z  2026-03-24T15:00:00Z  2026-03-24T14:05:06Z  -\n`,
    );
    const rotated = JSON.parse((await server.run(['identity-tokens', 'rotate', '--id', t.token.id, '-o', 'json'])).stdout);
    const next = server.machine.tokens[server.machine.tokens.length - 1];
    expect(rotated).toEqual({ plaintext: next?.plaintext, id: next?.token.id, env_prefix: 'dev', expires_at: '2026-03-24T15:00:00Z', rotation_deadline: '2026-03-24T15:00:00Z', old_token_users: [] });
  });

  test('a machine\'s token rotating a sibling token: Forbidden with the server\'s message, nothing rotated (issue 14)', async () => {
    const svc = server.machine.addServiceIdentity('svc-sibling', 'svc-sibling-secret-0001');
    const pipeline = server.machine.mint(`service:${svc.id}`, 'live', 3600);
    const leaked = server.machine.mint(`service:${svc.id}`, 'live', 3600);
    const file = join(dir, 'leaked.token');
    writeFileSync(file, leaked.plaintext);
    const count = server.machine.tokens.length;
    expect(await server.run(['identity-tokens', 'rotate', '--id', pipeline.token.id, '--token-file', file], { prog: 'plexctl' })).toEqual({
      code: 1,
      stdout: '',
      stderr: 'plexctl: Forbidden: a caller authenticated via an API token may rotate only the token it presents: present the token you mean to rotate\n',
    });
    expect(server.machine.tokens).toHaveLength(count);
    expect(pipeline.token.rotateTime).toBeUndefined();
  });

  test('rotate and delete of a token that is not yours: the server\'s NotFound', async () => {
    const id = '00000000-0000-4000-8000-0000000000ff';
    expect(await server.run(['identity-tokens', 'rotate', '--id', id])).toEqual({ code: 1, stdout: '', stderr: `mezctl: Not found: API token ${id} not found\n` });
    expect(await server.run(['identity-tokens', 'delete', '--id', id])).toEqual({ code: 1, stdout: '', stderr: `mezctl: Not found: API token ${id} not found\n` });
    expect(await server.run(['identity-tokens', 'delete'])).toEqual({ code: 2, stdout: '', stderr: 'mezctl: Invalid argument: Missing required argument: id\n' });
  });
});

describe('mezctl identity-tokens against a server without IdentityTokenService', () => {
  test('one line saying the server is older', async () => {
    const server = await FakeAuthServer.start({ omit: ['tokens'] });
    try {
      expect(await server.run(['identity-tokens', 'list'])).toEqual({
        code: 1,
        stdout: '',
        stderr: `mezctl: Not implemented: the auth server at ${server.address} does not implement IdentityTokenService.ListTokens; it is older than this mezctl\n`,
      });
    } finally {
      await server.stop();
    }
  });
});
