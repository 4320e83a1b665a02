import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { TestStack, type StackSecretsFile } from '../harness/test-stack';

/**
 * Each process gets only its own secrets, and a database role limited to its own
 * schema (issue 14). Read from the running processes themselves (/proc/<pid>/environ)
 * of a stack on its embedded PostgreSQL (scram-sha-256: the roles' passwords are
 * checked for real): no service holds another's pepper, key or database password, the
 * development OpenID Provider holds none, none holds the superuser's URL; and with the
 * URL a service has, another service's schema is permission denied — so the CA private
 * keys can be decrypted by ssh-ca alone (only it has the KEK, only its role reads them).
 */
describe('each process gets only its own secrets and database role', () => {
  let stack: TestStack;
  let secrets: StackSecretsFile;
  let superuserPassword: string;

  // A rotation in progress: each previous key goes to the one service that uses it.
  const previous = { MEZITE_TOKEN_PEPPER_PREVIOUS: randomBytes(32).toString('base64'), MEZITE_SESSION_PEPPER_PREVIOUS: randomBytes(32).toString('base64'), MEZITE_CA_KEK_PREVIOUS: randomBytes(32).toString('base64') };

  beforeAll(async () => {
    stack = await TestStack.start({ env: previous });
    secrets = stack.secrets();
    superuserPassword = decodeURIComponent(new URL(stack.status().databaseUrl).password);
  }, 180_000);
  afterAll(async () => {
    await stack?.destroy();
  });

  /** Every secret of the stack, by name, and the one process that may hold it. */
  const owners = (): Array<{ what: string; value: string | undefined; owner: string | undefined }> => [
    { what: 'session pepper', value: secrets.session_pepper, owner: 'auth-server' },
    { what: 'audit key', value: secrets.audit_key, owner: 'auth-server' },
    { what: 'audit signing key', value: secrets.audit_signing_key, owner: 'auth-server' },
    { what: 'token pepper', value: secrets.token_pepper, owner: 'token-service' },
    { what: 'CA KEK', value: secrets.ca_kek, owner: 'ssh-ca' },
    { what: 'auth db password', value: secrets.auth_db_password, owner: 'auth-server' },
    { what: 'token db password', value: secrets.token_db_password, owner: 'token-service' },
    { what: 'sshca db password', value: secrets.sshca_db_password, owner: 'ssh-ca' },
    { what: 'superuser password', value: superuserPassword, owner: undefined },
    { what: 'previous token pepper', value: previous.MEZITE_TOKEN_PEPPER_PREVIOUS, owner: 'token-service' },
    { what: 'previous session pepper', value: previous.MEZITE_SESSION_PEPPER_PREVIOUS, owner: 'auth-server' },
    { what: 'previous CA KEK', value: previous.MEZITE_CA_KEK_PREVIOUS, owner: 'ssh-ca' },
  ];

  test.each(['auth-server', 'token-service', 'ssh-ca', 'dev-oidc'] as const)("%s's process holds its own secrets and no other's", (name) => {
    const environ = Object.entries(stack.processEnv(name))
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
    const found = owners()
      .filter((s) => s.value !== undefined && s.value.length >= 16 && environ.includes(s.value))
      .map((s) => s.what)
      .sort();
    const expected = owners()
      .filter((s) => s.owner === name)
      .map((s) => s.what)
      .sort();
    expect(found).toEqual(expected);
  });

  const roleOf = { 'auth-server': 'mezite_auth', 'token-service': 'mezite_token', 'ssh-ca': 'mezite_sshca' } as const;
  test.each(Object.entries(roleOf))('%s connects as its own role %s', async (name, role) => {
    const url = stack.processEnv(name as keyof typeof roleOf).DATABASE_URL ?? '';
    expect(new URL(url).username).toBe(role);
    expect(await query(url, 'SELECT current_user AS u')).toEqual({ ok: [{ u: role }] });
  });

  /** Each statement, run with `service`'s own DATABASE_URL. */
  const denied: Array<[keyof typeof roleOf, string]> = [
    ['auth-server', 'SELECT * FROM token.api_tokens'],
    ['auth-server', 'SELECT * FROM token.client_secrets'],
    ['auth-server', 'SELECT encrypted_private_key FROM sshca.cert_authorities'],
    ['auth-server', "UPDATE sshca.cert_authorities SET public_key = 'x'"],
    ['auth-server', 'CREATE SCHEMA planted'],
    ['token-service', 'SELECT * FROM auth.sessions'],
    ['token-service', 'SELECT * FROM sshca.cert_authorities'],
    ['ssh-ca', 'SELECT * FROM token.api_tokens'],
    ['ssh-ca', 'DELETE FROM auth.bots'],
  ];
  test.each(denied)("%s's role is denied: %s", async (name, sql) => {
    expect(await query(stack.processEnv(name).DATABASE_URL ?? '', sql)).toEqual({ code: '42501' });
  });

  test('the CA private keys are readable by ssh-ca alone, and only ssh-ca has the KEK to open them', async () => {
    const own = await query(stack.processEnv('ssh-ca').DATABASE_URL ?? '', 'SELECT count(*)::int AS n FROM sshca.cert_authorities');
    expect(own).toEqual({ ok: [{ n: expect.any(Number) }] });
    expect((own as { ok: Array<{ n: number }> }).ok[0]?.n).toBeGreaterThan(0);
    for (const other of ['auth-server', 'token-service', 'dev-oidc'] as const) {
      const env = stack.processEnv(other);
      expect([other, env.MEZITE_CA_KEK, Object.values(env).some((v) => v.includes(secrets.ca_kek))]).toEqual([other, undefined, false]);
      if (other !== 'dev-oidc') expect(await query(env.DATABASE_URL ?? '', 'SELECT * FROM sshca.cert_authorities')).toEqual({ code: '42501' });
    }
  });
});

async function query(url: string, sql: string): Promise<{ ok: unknown[] } | { code: string }> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return { ok: (await c.query(sql)).rows };
  } catch (err) {
    return { code: String((err as { code?: string }).code) };
  } finally {
    await c.end();
  }
}
