import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMeziteClients, Metadata, publicChannelCredentials } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { runBin, type CliResult } from '../harness/cli';
import { TestStack } from '../harness/test-stack';

const FORBIDDEN = 'plexctl: Forbidden: a caller authenticated via an API token may rotate only the token it presents: present the token you mean to rotate\n';

/** What `identity-tokens issue|issue-service --output json` prints. */
interface Issued {
  access_token: string;
  id: string;
  expires_at: string;
}
/** What `identity-tokens rotate --output json` prints. */
interface Rotated {
  plaintext: string;
  id: string;
  expires_at: string;
  rotation_deadline: string;
}

/**
 * Issue 14: what one leaked API token can do to its identity, driven through the CLI as
 * an attacker holding it would. It cannot outlive its original expiry by rotating
 * itself, cannot rotate the pipeline's token, dies with the token it was rotated from,
 * and `service-identities rotate-secret --revoke-tokens` kills every token at once.
 */
describe('API token lineages: a leaked token cannot keep itself alive or take over its siblings', () => {
  let stack: TestStack;
  let work: string;
  let svc: { id: string; client_id: string; client_secret: string };
  let n = 0;

  /** plexctl with only `PLEXSPHERE_URL` and the given token as the credential (the machine, or the attacker). */
  const asToken = (token: string, args: string[]): Promise<CliResult> => {
    const file = join(work, `t${++n}`);
    writeFileSync(file, token, { mode: 0o600 });
    return runBin('plexctl', [...args, '--token-file', file], { env: { PLEXSPHERE_URL: stack.httpUrl, MEZITE_IDENTITY: '', MEZITE_DATA_DIR: work, MEZITE_AUTH_SERVER: '' }, cwd: work });
  };
  /** mezctl as the stack's bootstrap admin. */
  const asAdmin = (args: string[]) => runBin('mezctl', args, { env: stack.cliEnv });
  const json = <T>(r: CliResult): T => {
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    return JSON.parse(r.stdout) as T;
  };
  const signIn = async (secret = svc.client_secret): Promise<Issued> =>
    json<Issued>(await runBin('plexctl', ['identity-tokens', 'issue-service', '--client-id', svc.client_id, '--grant-type', 'client_credentials', '--client-secret', secret, '--output', 'json'], { env: { PLEXSPHERE_URL: stack.httpUrl, MEZITE_IDENTITY: '', MEZITE_DATA_DIR: work, MEZITE_AUTH_SERVER: '' }, cwd: work }));
  const rotate = async (token: string, id: string): Promise<Rotated> => json<Rotated>(await asToken(token, ['identity-tokens', 'rotate', '--id', id, '--output', 'json']));
  const works = async (token: string) => (await asToken(token, ['whoami'])).code === 0;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mezite-lineage-'));
    // Refused bearers count against the source (30 a minute by default); this test refuses
    // many on purpose, and each refusal must be the revocation's, not the limiter's.
    stack = await TestStack.start({ env: { MEZITE_AUTH_FAILURE_LIMIT: '1000' } });
    svc = json(await asAdmin(['service-identities', 'add', '--name', 'lineage', '--output', 'json']));
  }, 120_000);
  afterAll(async () => stack?.destroy());

  test('rotating never extends a lineage: every successor expires with the first token, and then the chain is dead', async () => {
    const leaked = json<Issued>(await asAdmin(['identity-tokens', 'issue', '--identity-ref', `service:${svc.id}`, '--env-prefix', 'live', '--ttl', '20s', '--output', 'json']));
    // Later than the mint by more than the printed precision (seconds), so a lifetime
    // counted again from the rotation would show.
    await new Promise((r) => setTimeout(r, 2000));
    const second = await rotate(leaked.access_token, leaked.id);
    const third = await rotate(second.plaintext, second.id);
    expect(second.expires_at).toBe(leaked.expires_at);
    expect(third.expires_at).toBe(leaked.expires_at);
    expect(Date.parse(third.rotation_deadline)).toBeLessThanOrEqual(Date.parse(leaked.expires_at));
    expect(await works(third.plaintext)).toBe(true);

    // expires_at is printed in whole seconds (its milliseconds cut off): the token lives up
    // to a second beyond it. Wait past that second, not half of it.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(leaked.expires_at) + 1000 - Date.now()) + 500));
    expect(await works(third.plaintext)).toBe(false);
    const again = await asToken(third.plaintext, ['identity-tokens', 'rotate', '--id', third.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^plexctl: Unauthenticated: /);
  }, 60_000);

  test("a leaked token cannot rotate the pipeline's token: Forbidden, and the pipeline's token is untouched", async () => {
    const pipeline = await signIn();
    const leaked = await signIn();
    const r = await asToken(leaked.access_token, ['identity-tokens', 'rotate', '--id', pipeline.id]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: FORBIDDEN });
    // Nor a made-up id: the same answer, decided before any lookup.
    expect(await asToken(leaked.access_token, ['identity-tokens', 'rotate', '--id', '00000000-0000-4000-8000-000000000001'])).toEqual({ code: 1, stdout: '', stderr: FORBIDDEN });
    const mine = json<{ items: Array<{ id: string; rotated_at: string | null; rotation_deadline: string | null }> }>(await asToken(pipeline.access_token, ['identity-tokens', 'list', '--output', 'json']));
    expect(mine.items.find((t) => t.id === pipeline.id)).toMatchObject({ rotated_at: null, rotation_deadline: null });
    expect(await works(pipeline.access_token)).toBe(true);
    // The token it presents it may rotate: that is the machine's lifecycle (seed 000, step 5).
    const own = await rotate(leaked.access_token, leaked.id);
    expect(await works(own.plaintext)).toBe(true);
  }, 60_000);

  test('a leaked token does not survive deletion of the original: its successors die with it, the pipeline lives', async () => {
    const pipeline = await signIn();
    const leaked = await signIn();
    const second = await rotate(leaked.access_token, leaked.id);
    const third = await rotate(second.plaintext, second.id);
    for (const t of [second.plaintext, third.plaintext]) expect(await works(t)).toBe(true);

    // The owner deletes the token it knows was leaked, with its own pipeline's token.
    expect(await asToken(pipeline.access_token, ['identity-tokens', 'delete', '--id', leaked.id])).toEqual({ code: 0, stdout: '', stderr: '' });
    for (const t of [leaked.access_token, second.plaintext, third.plaintext]) {
      const r = await asToken(t, ['whoami']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^plexctl: Unauthenticated: /);
    }
    expect(await works(pipeline.access_token)).toBe(true);
    const left = json<{ items: Array<{ id: string }> }>(await asToken(pipeline.access_token, ['identity-tokens', 'list', '--output', 'json'])).items.map((t) => t.id);
    for (const id of [leaked.id, second.id, third.id]) expect(left).not.toContain(id);
  }, 60_000);

  test('rotate-secret --revoke-tokens: 0 requests with any token of the identity succeed once it returns; without the flag they stay valid', async () => {
    const minted = json<Issued>(await asAdmin(['identity-tokens', 'issue', '--identity-ref', `service:${svc.id}`, '--env-prefix', 'dev', '--output', 'json']));
    const signedIn = [await signIn(), await signIn()];
    const http = await fetch(`${stack.httpUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${svc.client_id}:${svc.client_secret}`).toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    expect(http.status).toBe(200);
    const viaHttp = ((await http.json()) as { access_token: string }).access_token;
    const inOverlap = signedIn[1] as Issued;
    const successor = await rotate(inOverlap.access_token, inOverlap.id);
    const all = [minted.access_token, ...signedIn.map((t) => t.access_token), viaHttp, successor.plaintext];

    // Without the flag: a new secret, a note, and every issued token still works.
    const plain = await asAdmin(['service-identities', 'rotate-secret', 'lineage', '--output', 'json']);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toBe('mezctl: API tokens already issued to lineage stay valid until they expire; add --revoke-tokens to revoke them\n');
    const secret = (JSON.parse(plain.stdout) as { client_secret: string }).client_secret;
    for (const t of all) expect(await works(t)).toBe(true);
    all.push((await signIn(secret)).access_token);

    // Cache them all on the auth-server (verification leases) just before the revocation.
    const ca = (JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')) as { ca_cert: string }).ca_cert;
    const clients = createMeziteClients({ address: `localhost:${stack.ports.auth}`, credentials: publicChannelCredentials(ca), peerName: 'auth server' });
    try {
      const identity = clients.create(authv1.IdentityServiceDefinition);
      /** 'ok', or the refusal's code. */
      const whoAmI = (t: string) => identity.whoAmI({}, { metadata: Metadata({ authorization: `Bearer ${t}` }) }).then(
        () => 'ok',
        (err: { code?: string }) => err.code ?? String(err),
      );
      expect(await Promise.all(all.map(whoAmI))).toEqual(all.map(() => 'ok'));

      const r = await asAdmin(['service-identities', 'rotate-secret', 'lineage', '--revoke-tokens', '--output', 'json']);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('mezctl: every API token of lineage is revoked\n');
      const newest = (JSON.parse(r.stdout) as { client_secret: string }).client_secret;

      // From the moment the command returned: not one success over several rounds, each
      // refused as an unknown credential (not rate limited).
      const answers: string[] = [];
      for (let round = 0; round < 5; round++) answers.push(...(await Promise.all(all.flatMap((t) => [whoAmI(t), whoAmI(t)]))));
      expect(answers.filter((a) => a === 'ok')).toHaveLength(0);
      expect(new Set(answers)).toEqual(new Set(['Unauthenticated']));
      for (const t of all) expect(await works(t)).toBe(false);
      // The secret it printed signs in; the one before it does not.
      expect(await works((await signIn(newest)).access_token)).toBe(true);
      const old = await runBin('plexctl', ['identity-tokens', 'issue-service', '--client-id', svc.client_id, '--grant-type', 'client_credentials', '--client-secret', secret], { env: { PLEXSPHERE_URL: stack.httpUrl, MEZITE_IDENTITY: '', MEZITE_DATA_DIR: work, MEZITE_AUTH_SERVER: '' }, cwd: work });
      expect(old.code).toBe(1);
      expect(old.stderr).toMatch(/^plexctl: Unauthenticated: /);
    } finally {
      clients.close();
    }
  }, 90_000);
});
