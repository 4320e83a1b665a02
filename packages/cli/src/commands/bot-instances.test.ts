import type { authv1 } from '@mezite/proto';
import { FakeAuthServer } from '../fake-auth-server';

const at = (s: string) => new Date(s);

/** The machine seed 002's pipeline runs on: joined at 12:00, renewed twice since. */
const runner: Partial<authv1.BotInstance> & { botName: string } = {
  botName: 'github-deploy',
  generation: 3,
  createTime: at('2026-03-24T12:00:00Z'),
  lastRenewalTime: at('2026-03-24T13:40:00Z'),
  lastAddress: '203.0.113.7',
  certExpireTime: at('2026-03-24T14:40:00Z'),
  heartbeat: {
    version: '0.1.0',
    hostname: 'runner-7',
    os: 'linux 6.8.0 x64',
    renewalIntervalSeconds: 1200,
    oneShot: false,
    destinations: [
      { destination: '/var/lib/mezite/identity/certs', healthy: true, error: '', updateTime: at('2026-03-24T13:40:01Z') },
      { destination: 'kubernetes-secret://ci/mezite-identity', healthy: false, error: 'secrets "mezite-identity" is forbidden', updateTime: undefined },
    ],
  },
  lineage: [
    { generation: 1, publicKeyFingerprint: 'SHA256:Zm9vYmFyMQ', serial: '7001', issueTime: at('2026-03-24T12:00:00Z'), expireTime: at('2026-03-24T13:00:00Z'), address: '203.0.113.7' },
    { generation: 2, publicKeyFingerprint: 'SHA256:Zm9vYmFyMg', serial: '7002', issueTime: at('2026-03-24T12:50:00Z'), expireTime: at('2026-03-24T13:50:00Z'), address: '203.0.113.7' },
    { generation: 3, publicKeyFingerprint: 'SHA256:Zm9vYmFyMw', serial: '7003', issueTime: at('2026-03-24T13:40:00Z'), expireTime: at('2026-03-24T14:40:00Z'), address: '203.0.113.8' },
  ],
};

describe('mezctl bots instances', () => {
  let server: FakeAuthServer;
  beforeAll(async () => {
    server = await FakeAuthServer.start({ pageSize: 1 });
  });
  afterAll(async () => server.stop());
  beforeEach(() => {
    server.bots.clear();
    server.instances.clear();
    server.calls.length = 0;
    server.addBot({ name: 'github-deploy', roles: ['ci-deployer'] });
    server.addBot({ name: 'nightly-backup', roles: ['backup'] });
  });

  describe('ls', () => {
    test('every bot by default, newest first, over every page', async () => {
      const a = server.addBotInstance(runner);
      const b = server.addBotInstance({ botName: 'nightly-backup', createTime: at('2026-03-24T13:00:00Z'), lastRenewalTime: at('2026-03-24T13:00:00Z'), lastAddress: '198.51.100.2', heartbeat: { version: '0.1.0', hostname: 'db-1', os: 'linux', renewalIntervalSeconds: 0, oneShot: true, destinations: [] } });
      const c = server.addBotInstance({ botName: 'github-deploy', generation: 5, createTime: at('2026-03-23T09:00:00Z'), lastRenewalTime: at('2026-03-23T10:00:00Z'), lock: { reason: 'certificate generation mismatch', createTime: at('2026-03-23T10:00:00Z'), expireTime: undefined, lockedBy: 'mezite' } });
      const r = await server.run(['bots', 'instances', 'ls']);
      expect(r).toEqual({
        code: 0,
        stderr: '',
        stdout:
          'ID                                    BOT             GENERATION  HOSTNAME  VERSION  LAST_RENEWAL          ADDRESS       LOCKED\n' +
          `${b.id}  nightly-backup  1           db-1      0.1.0    2026-03-24T13:00:00Z  198.51.100.2  no\n` +
          `${a.id}  github-deploy   3           runner-7  0.1.0    2026-03-24T13:40:00Z  203.0.113.7   no\n` +
          `${c.id}  github-deploy   5           -         -        2026-03-23T10:00:00Z  -             yes\n`,
      });
      expect(server.calls.map((x) => x.method)).toEqual(['BotService.ListBotInstances', 'BotService.ListBotInstances', 'BotService.ListBotInstances']);
      expect(server.calls[0]?.request).toEqual({ botName: '', pageSize: 500, pageToken: '' });
    });

    test('of one bot', async () => {
      const a = server.addBotInstance(runner);
      server.addBotInstance({ botName: 'nightly-backup' });
      const r = await server.run(['bots', 'instances', 'list', 'github-deploy']);
      expect(r.stdout.split('\n').slice(1, -1).map((l) => l.split(/\s+/)[0])).toEqual([a.id]);
      expect(server.calls[0]?.request).toEqual({ botName: 'github-deploy', pageSize: 500, pageToken: '' });
    });

    test('--output json: the heartbeat in full, no lineage', async () => {
      const a = server.addBotInstance(runner);
      const r = await server.run(['bots', 'instances', 'ls', 'github-deploy', '-o', 'json']);
      expect(JSON.parse(r.stdout)).toEqual({
        items: [
          {
            id: a.id,
            bot_name: 'github-deploy',
            generation: 3,
            join_method: 'token',
            created_at: '2026-03-24T12:00:00Z',
            last_renewal_at: '2026-03-24T13:40:00Z',
            last_address: '203.0.113.7',
            cert_expires_at: '2026-03-24T14:40:00Z',
            locked: false,
            lock: null,
            heartbeat: {
              version: '0.1.0',
              hostname: 'runner-7',
              os: 'linux 6.8.0 x64',
              renewal_interval_seconds: 1200,
              one_shot: false,
              destinations: [
                { destination: '/var/lib/mezite/identity/certs', healthy: true, error: '', updated_at: '2026-03-24T13:40:01Z' },
                { destination: 'kubernetes-secret://ci/mezite-identity', healthy: false, error: 'secrets "mezite-identity" is forbidden', updated_at: null },
              ],
            },
          },
        ],
      });
    });

    test('none: the header alone, and an empty list in JSON', async () => {
      expect(await server.run(['bots', 'instances', 'ls', 'github-deploy'])).toEqual({ code: 0, stderr: '', stdout: 'ID  BOT  GENERATION  HOSTNAME  VERSION  LAST_RENEWAL  ADDRESS  LOCKED\n' });
      expect(JSON.parse((await server.run(['bots', 'instances', 'ls', '-o', 'json'])).stdout)).toEqual({ items: [] });
    });

    test('an unknown bot is NotFound', async () => {
      expect(await server.run(['bots', 'instances', 'ls', 'no-such-bot'])).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Not found: bot "no-such-bot" not found\n' });
    });
  });

  describe('show', () => {
    test('heartbeat, destinations, lock and the lineage', async () => {
      const a = server.addBotInstance(runner);
      const r = await server.run(['bots', 'instances', 'show', a.id]);
      expect(r).toEqual({
        code: 0,
        stderr: '',
        stdout:
          `id:               ${a.id}\n` +
          'bot:              github-deploy\n' +
          'generation:       3\n' +
          'join_method:      token\n' +
          'created_at:       2026-03-24T12:00:00Z\n' +
          'last_renewal_at:  2026-03-24T13:40:00Z\n' +
          'last_address:     203.0.113.7\n' +
          'cert_expires_at:  2026-03-24T14:40:00Z\n' +
          'locked:           no\n' +
          'version:          0.1.0\n' +
          'hostname:         runner-7\n' +
          'os:               linux 6.8.0 x64\n' +
          'renewal:          every 20m\n' +
          'destinations:     /var/lib/mezite/identity/certs: ok (written 2026-03-24T13:40:01Z)\n' +
          '                  kubernetes-secret://ci/mezite-identity: failing: secrets "mezite-identity" is forbidden (last written: never)\n' +
          '\n' +
          'GENERATION  KEY_FINGERPRINT    SERIAL  ISSUED                EXPIRES               ADDRESS\n' +
          '1           SHA256:Zm9vYmFyMQ  7001    2026-03-24T12:00:00Z  2026-03-24T13:00:00Z  203.0.113.7\n' +
          '2           SHA256:Zm9vYmFyMg  7002    2026-03-24T12:50:00Z  2026-03-24T13:50:00Z  203.0.113.7\n' +
          '3           SHA256:Zm9vYmFyMw  7003    2026-03-24T13:40:00Z  2026-03-24T14:40:00Z  203.0.113.8\n',
      });
      expect(server.calls).toEqual([{ method: 'BotService.GetBotInstance', request: { id: a.id } }]);
    });

    test('a locked one-shot instance without destinations; an older mezd that sent no heartbeat', async () => {
      const a = server.addBotInstance({
        botName: 'github-deploy',
        heartbeat: { version: '0.1.0', hostname: 'ci-job', os: 'linux', renewalIntervalSeconds: 0, oneShot: true, destinations: [] },
        lock: { reason: 'certificate generation mismatch', createTime: at('2026-03-24T13:50:00Z'), expireTime: undefined, lockedBy: 'mezite' },
      });
      const lines = (await server.run(['bots', 'instances', 'show', a.id])).stdout.split('\n');
      expect(lines.slice(8, 14)).toEqual([
        'locked:           yes (reason: "certificate generation mismatch", expires: never, locked_by: mezite)',
        'version:          0.1.0',
        'hostname:         ci-job',
        'os:               linux',
        'renewal:          one-shot',
        'destinations:     -',
      ]);
      const b = server.addBotInstance({ botName: 'github-deploy', lastAddress: '' });
      const silent = (await server.run(['bots', 'instances', 'show', b.id])).stdout.split('\n');
      expect(silent.slice(6, 17)).toEqual([
        'last_address:     -',
        'cert_expires_at:  -',
        'locked:           no',
        'version:          -',
        'hostname:         -',
        'os:               -',
        'renewal:          -',
        'destinations:     -',
        '',
        'GENERATION  KEY_FINGERPRINT  SERIAL  ISSUED  EXPIRES  ADDRESS',
        '',
      ]);
    });

    test('--output json adds the lineage', async () => {
      const a = server.addBotInstance(runner);
      const json = JSON.parse((await server.run(['bots', 'instances', 'show', a.id, '--output', 'json'])).stdout) as Record<string, unknown>;
      expect(json).toMatchObject({ id: a.id, bot_name: 'github-deploy', generation: 3, locked: false, heartbeat: { hostname: 'runner-7', one_shot: false } });
      expect(json['lineage']).toEqual([
        { generation: 1, public_key_fingerprint: 'SHA256:Zm9vYmFyMQ', serial: '7001', issued_at: '2026-03-24T12:00:00Z', expires_at: '2026-03-24T13:00:00Z', address: '203.0.113.7' },
        { generation: 2, public_key_fingerprint: 'SHA256:Zm9vYmFyMg', serial: '7002', issued_at: '2026-03-24T12:50:00Z', expires_at: '2026-03-24T13:50:00Z', address: '203.0.113.7' },
        { generation: 3, public_key_fingerprint: 'SHA256:Zm9vYmFyMw', serial: '7003', issued_at: '2026-03-24T13:40:00Z', expires_at: '2026-03-24T14:40:00Z', address: '203.0.113.8' },
      ]);
    });

    test('what a daemon says of itself cannot drive the terminal; JSON keeps it exact', async () => {
      const hostname = 'evil\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202ehost';
      const a = server.addBotInstance({ botName: 'github-deploy', heartbeat: { version: '1\n2', hostname, os: 'linux', renewalIntervalSeconds: 60, oneShot: false, destinations: [{ destination: '/x\r', healthy: false, error: 'denied\u001b[0m', updateTime: undefined }] } });
      const show = (await server.run(['bots', 'instances', 'show', a.id])).stdout;
      const ls = (await server.run(['bots', 'instances', 'ls'])).stdout;
      for (const out of [show, ls]) expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
      expect(show).toContain('hostname:         evil?[2J?]0;pwned??31m?host\n');
      expect(show).toContain('version:          1?2\n');
      expect(show).toContain('destinations:     /x?: failing: denied?[0m (last written: never)\n');
      const json = JSON.parse((await server.run(['bots', 'instances', 'show', a.id, '-o', 'json'])).stdout) as { heartbeat: { hostname: string } };
      expect(json.heartbeat.hostname).toBe(hostname);
    });

    test('an unknown id is NotFound, a malformed one InvalidArgument: one line each', async () => {
      expect(await server.run(['bots', 'instances', 'show', '1a000000-0000-4000-8000-0000000000ff'])).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Not found: bot instance "1a000000-0000-4000-8000-0000000000ff" not found\n' });
      expect(await server.run(['bots', 'instances', 'show', 'github-deploy'])).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Invalid argument: id: not a bot instance id (a UUID)\n' });
      expect(await server.run(['bots', 'instances', 'show'])).toEqual({ code: 2, stdout: '', stderr: 'mezctl: Invalid argument: Not enough non-option arguments: got 0, need at least 1\n' });
    });
  });

  describe('add', () => {
    test('prints another join token as rotate-token does, leaving the others alone', async () => {
      const r = await server.run(['bots', 'instances', 'add', 'github-deploy', '--token-ttl=30m']);
      const token = /Join token: (tok-bot-\d+) /.exec(r.stdout)?.[1] as string;
      expect(r).toEqual({
        code: 0,
        stderr: '',
        stdout: `Join token: ${token} (expires: 2026-03-24T14:30:00Z)\n\nUse this token with mezd identity:\nmezd identity start --auth-server=${server.address} --join-token=${token}\n`,
      });
      expect(server.calls).toEqual([{ method: 'BotService.AddBotInstance', request: { name: 'github-deploy', tokenTtlSeconds: 1800 } }]);
    });

    test('--output json; the token lives an hour by default', async () => {
      const json = JSON.parse((await server.run(['bots', 'instances', 'add', 'github-deploy', '-o', 'json'])).stdout) as unknown;
      expect(json).toEqual({ name: 'github-deploy', join_token: expect.stringMatching(/^tok-bot-/), expires_at: '2026-03-24T15:00:00Z' });
      expect(server.calls[0]?.request).toEqual({ name: 'github-deploy', tokenTtlSeconds: 3600 });
    });

    test('an unknown bot is NotFound; a bad --token-ttl or no bot makes no call', async () => {
      expect(await server.run(['bots', 'instances', 'add', 'no-such-bot'])).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Not found: bot "no-such-bot" not found\n' });
      server.calls.length = 0;
      const ttl = await server.run(['bots', 'instances', 'add', 'github-deploy', '--token-ttl=60']);
      expect(ttl).toEqual({ code: 1, stdout: '', stderr: expect.stringMatching(/^mezctl: Invalid argument: --token-ttl: invalid duration "60"; [^\n]+\n$/) });
      expect(await server.run(['bots', 'instances', 'add'])).toEqual({ code: 2, stdout: '', stderr: 'mezctl: Invalid argument: Not enough non-option arguments: got 0, need at least 1\n' });
      expect(server.calls).toEqual([]);
    });
  });

  test('an auth server without instances says so in one line', async () => {
    const old = await FakeAuthServer.start({ omit: ['bots'] });
    try {
      const r = await old.run(['bots', 'instances', 'ls']);
      expect(r).toEqual({ code: 1, stdout: '', stderr: `mezctl: Not implemented: the auth server at ${old.address} does not implement BotService.ListBotInstances; it is older than this mezctl\n` });
    } finally {
      await old.stop();
    }
  });
});
