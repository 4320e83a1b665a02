import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveTarget } from './connection';
import { readSessionFile, removeSessionFile, sessionFilePath, writeSessionFile, type SessionFile } from './session-file';

describe('the saved session of mezctl login', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const future = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const session = (o: Partial<SessionFile> = {}): SessionFile => ({ version: 1, auth_server: 'people.example:3025', ca_cert: 'SESSION-CA', token: 'mzs_session', expires_at: future, principal: 'user:u-1', ...o });
  /** The stack's admin identity, found through MEZITE_DATA_DIR. */
  const adminIdentity = (authServer: string) => {
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'data', 'admin-identity.json'), JSON.stringify({ version: 1, auth_server: authServer, ca_cert: 'ADMIN-CA', token: 'mzs_admin' }));
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mezctl-session-'));
    env = { MEZITE_HOME: join(dir, 'home'), MEZITE_DATA_DIR: join(dir, 'data') };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('is written 0600 in MEZITE_HOME and read back; removed by logout', () => {
    const path = writeSessionFile(env, session());
    expect(path).toBe(join(dir, 'home', 'session.json'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'home')).mode & 0o777).toBe(0o700);
    expect(readSessionFile(env)).toEqual(session());
    removeSessionFile(env);
    expect(readSessionFile(env)).toBeUndefined();
  });

  test('lives in ~/.mezite without MEZITE_HOME', () => {
    expect(sessionFilePath({ HOME: '/home/ada' })).toBe('/home/ada/.mezite/session.json');
  });

  test('a file that is not a session is an error naming it', () => {
    mkdirSync(join(dir, 'home'));
    writeFileSync(join(dir, 'home', 'session.json'), '{"version":1}');
    expect(() => readSessionFile(env)).toThrow(/session\.json is not a session file/);
  });

  test.each<[string, () => void, Record<string, string>, { address: string; caCertPem: string; token?: string }]>([
    ['no flags: the session, before the admin identity of another server', () => adminIdentity('stack.local:3025'), {}, { address: 'people.example:3025', caCertPem: 'SESSION-CA', token: 'mzs_session' }],
    ['same server as the admin identity: the session wins', () => adminIdentity('people.example:3025'), {}, { address: 'people.example:3025', caCertPem: 'SESSION-CA', token: 'mzs_session' }],
    ['--auth-server elsewhere: the session is not sent there', () => adminIdentity('stack.local:3025'), { authServer: 'stack.local:3025' }, { address: 'stack.local:3025', caCertPem: 'ADMIN-CA', token: 'mzs_admin' }],
    ['--auth-server naming the session’s server: the session', () => undefined, { authServer: 'people.example:3025' }, { address: 'people.example:3025', caCertPem: 'SESSION-CA', token: 'mzs_session' }],
  ])('target: %s', async (_name, setup, opts, expected) => {
    setup();
    writeSessionFile(env, session());
    expect(await resolveTarget(opts, env)).toEqual(expected);
  });

  test('a named identity or --token-file comes before the session', async () => {
    adminIdentity('stack.local:3025');
    writeSessionFile(env, session({ auth_server: 'stack.local:3025' }));
    expect((await resolveTarget({ identityFile: join(dir, 'data', 'admin-identity.json') }, env)).token).toBe('mzs_admin');
    writeFileSync(join(dir, 'api.token'), 'psk_live_x\n');
    expect(await resolveTarget({ tokenFile: join(dir, 'api.token') }, env)).toEqual({ address: 'stack.local:3025', caCertPem: 'ADMIN-CA', token: 'psk_live_x' });
  });

  test('an expired session is ignored', async () => {
    adminIdentity('stack.local:3025');
    writeSessionFile(env, session({ expires_at: '2020-01-01T00:00:00Z' }));
    expect(await resolveTarget({}, env)).toEqual({ address: 'stack.local:3025', caCertPem: 'ADMIN-CA', token: 'mzs_admin' });
  });

  test('anonymous calls (login itself) take the session’s server but never its token', async () => {
    writeSessionFile(env, session());
    expect(await resolveTarget({}, env, undefined, { anonymous: true })).toEqual({ address: 'people.example:3025', caCertPem: 'SESSION-CA' });
  });
});
