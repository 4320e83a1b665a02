import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeAuthServer } from '../fake-auth-server';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = (claims: Record<string, unknown>) => `${b64({ alg: 'RS256', kid: 'k' })}.${b64(claims)}.c2ln`;
const RESOURCE = ['kind: join_token', 'metadata:', '  name: gha-deploy', 'spec:', '  bot: github-deploy', '  join_method: github', '  allow:', '    - repository: octo-org/octo-repo', '      ref: refs/heads/main', '    - repository_owner: octo-org', '      environment: production', ''].join('\n');
const CLAIMS = { aud: 'mezite:default/gha-deploy', repository: 'octo-org/octo-repo', repository_owner: 'octo-org', ref: 'refs/heads/main', exp: 4102444800 };

/** `mezctl join-tokens test`: explains offline (no server, no signature check) which rule admits a token and why the others do not. */
describe('mezctl join-tokens test', () => {
  let server: FakeAuthServer;
  let dir: string;
  beforeAll(async () => {
    server = await FakeAuthServer.start();
    dir = mkdtempSync(join(tmpdir(), 'mezctl-jt-'));
    writeFileSync(join(dir, 'token.yaml'), RESOURCE);
  });
  afterAll(async () => server.stop());
  const run = async (claims: Record<string, unknown>, extra: string[] = []) => {
    writeFileSync(join(dir, 'id.jwt'), jwt(claims));
    return server.run(['join-tokens', 'test', '--file', join(dir, 'id.jwt'), '--resource-file', join(dir, 'token.yaml'), ...extra]);
  };

  test('a token of main is allowed by rule 0; rule 1 is explained', async () => {
    const r = await run(CLAIMS);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ALLOWED \(signature not checked/);
    expect(r.stdout).toMatch(/^rule 0: matches$/m);
    expect(r.stdout).toMatch(/^rule 1: no match: environment: wanted "production", got no claim$/m);
    expect(server.calls).toEqual([]);
  });

  test('a token of another branch is refused, naming the claim and its value; exit 1', async () => {
    const r = await run({ ...CLAIMS, ref: 'refs/heads/evil' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^REFUSED/);
    expect(r.stdout).toMatch(/^rule 0: no match: ref: wanted "refs\/heads\/main", got "refs\/heads\/evil"$/m);
    expect(r.stderr).toMatch(/would be refused/);
  });

  test('a token for another audience is refused even when a rule matches', async () => {
    const r = await run({ ...CLAIMS, aud: 'https://github.com/octo-org' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^audience: wanted "mezite:default\/gha-deploy", got "https:\/\/github.com\/octo-org"$/m);
  });

  test('JSON output carries the verdicts', async () => {
    const r = await run(CLAIMS, ['--output', 'json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ allowed: true, signature_checked: false, rules: [{ index: 0, matched: true }, { index: 1, matched: false }] });
  });

  test('a file that is not a JWT is an invalid argument', async () => {
    writeFileSync(join(dir, 'bad.jwt'), 'hello');
    const r = await server.run(['join-tokens', 'test', '--file', join(dir, 'bad.jwt'), '--resource-file', join(dir, 'token.yaml')]);
    expect(r).toMatchObject({ code: 1, stderr: expect.stringMatching(/not a JWT/) });
  });
});
