import { FakeAuthServer } from '../fake-auth-server';

const role = 'kind: role\nmetadata:\n  name: ci-deployer\nspec:\n  allow:\n    logins: [deploy]\n';
const at = (s: string) => new Date(s);

describe('mezctl bots', () => {
  let server: FakeAuthServer;
  beforeAll(async () => {
    server = await FakeAuthServer.start({ pageSize: 1 });
    server.addRole(role);
  });
  afterAll(async () => server.stop());
  beforeEach(() => {
    server.bots.clear();
    server.instances.clear();
    server.calls.length = 0;
  });

  test('add prints the lines seed 002 shows', async () => {
    const r = await server.run(['bots', 'add', '--name=github-deploy', '--roles=ci-deployer', '--token-ttl=1h']);
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout:
        'Bot created: github-deploy (roles: ci-deployer)\n' +
        'Join token: tok-bot-00000000000000000000000000000001 (expires: 2026-03-24T15:00:00Z)\n' +
        '\n' +
        'Use this token with mezd identity:\n' +
        `mezd identity start --auth-server=${server.address} --join-token=tok-bot-00000000000000000000000000000001\n`,
    });
  });

  test('add without --name is a usage error and calls nothing', async () => {
    const r = await server.run(['bots', 'add', '--roles=ci-deployer']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'mezctl: Invalid argument: Missing required argument: name\n' });
    expect(server.calls).toEqual([]);
  });

  test('ls keeps NAME ROLES first and adds LOCKED and GENERATION, over every page', async () => {
    server.addBot({ name: 'github-deploy', roles: ['ci-deployer'], createTime: at('2026-03-24T13:00:00Z'), generation: 7 });
    server.addBot({ name: 'nightly-backup', roles: ['ci-deployer', 'backup'], createTime: at('2026-03-20T08:30:00Z'), lock: { reason: 'rotating', createTime: at('2026-03-24T13:30:00Z'), expireTime: undefined, lockedBy: 'user:u-1' } });
    const r = await server.run(['bots', 'ls']);
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout:
        'NAME            ROLES               LOCKED  GENERATION  CREATED_AT\n' +
        'github-deploy   ci-deployer         no      7           2026-03-24T13:00:00Z\n' +
        'nightly-backup  ci-deployer,backup  yes     0           2026-03-20T08:30:00Z\n',
    });
    expect(server.methods()).toEqual(['BotService.ListBots', 'BotService.ListBots']);
    const json = JSON.parse((await server.run(['bots', 'ls', '-o', 'json'])).stdout) as { items: Array<{ name: string; locked: boolean; generation: number }> };
    expect(json.items.map((b) => [b.name, b.locked, b.generation])).toEqual([
      ['github-deploy', false, 7],
      ['nightly-backup', true, 0],
    ]);
  });

  test('show prints lock, generation, last seen and certificate expiry', async () => {
    const b = server.addBot({ name: 'github-deploy', roles: ['ci-deployer'], createTime: at('2026-03-24T13:00:00Z') });
    expect((await server.run(['bots', 'show', 'github-deploy'])).stdout).toBe(
      'name:             github-deploy\n' +
        `id:               ${b.id}\n` +
        'roles:            ci-deployer\n' +
        'created_at:       2026-03-24T13:00:00Z\n' +
        'locked:           no\n' +
        'generation:       0\n' +
        'last_seen_at:     -\n' +
        'cert_expires_at:  -\n' +
        'max_cert_ttl:     server default\n' +
        'instances:        0\n',
    );
    Object.assign(b, {
      generation: 3,
      lastSeenTime: at('2026-03-24T13:45:00Z'),
      certExpireTime: at('2026-03-24T14:45:00Z'),
      lock: { reason: 'copied "identity"', createTime: at('2026-03-24T13:50:00Z'), expireTime: at('2026-03-25T13:50:00Z'), lockedBy: 'mezite' },
    });
    const locked = await server.run(['bots', 'show', 'github-deploy']);
    expect(locked.stdout.split('\n').slice(4)).toEqual([
      'locked:           yes (reason: "copied \\"identity\\"", expires: 2026-03-25T13:50:00Z, locked_by: mezite)',
      'generation:       3',
      'last_seen_at:     2026-03-24T13:45:00Z',
      'cert_expires_at:  2026-03-24T14:45:00Z',
      'max_cert_ttl:     server default',
      'instances:        0',
      '',
    ]);
    expect(JSON.parse((await server.run(['bots', 'show', 'github-deploy', '--output', 'json'])).stdout)).toEqual({
      id: b.id,
      name: 'github-deploy',
      roles: ['ci-deployer'],
      created_at: '2026-03-24T13:00:00Z',
      locked: true,
      lock: { reason: 'copied "identity"', locked_by: 'mezite', created_at: '2026-03-24T13:50:00Z', expires_at: '2026-03-25T13:50:00Z' },
      generation: 3,
      last_seen_at: '2026-03-24T13:45:00Z',
      cert_expires_at: '2026-03-24T14:45:00Z',
      max_certificate_ttl_seconds: 0,
      instances: [],
    });
  });

  test('add --max-ttl caps the certificate lifetime; show prints it; without it the server default', async () => {
    const r = await server.run(['bots', 'add', '--name=github-deploy', '--roles=ci-deployer', '--max-ttl=4h', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(server.calls[0]).toEqual({ method: 'BotService.CreateBot', request: { name: 'github-deploy', roles: ['ci-deployer'], tokenTtlSeconds: 3600, maxCertificateTtlSeconds: 14400 } });
    expect(JSON.parse(r.stdout)).toMatchObject({ bot: { name: 'github-deploy', max_certificate_ttl_seconds: 14400 } });
    expect((await server.run(['bots', 'show', 'github-deploy'])).stdout).toContain('\nmax_cert_ttl:     4h\n');

    server.calls.length = 0;
    await server.run(['bots', 'add', '--name=nightly-backup', '--roles=ci-deployer']);
    expect(server.calls[0]?.request).toMatchObject({ maxCertificateTtlSeconds: 0 });
    expect((await server.run(['bots', 'show', 'nightly-backup'])).stdout).toContain('\nmax_cert_ttl:     server default\n');
  });

  test('a bad --max-ttl is refused before any call', async () => {
    const r = await server.run(['bots', 'add', '--name=github-deploy', '--roles=ci-deployer', '--max-ttl=4']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: expect.stringMatching(/^mezctl: Invalid argument: --max-ttl: invalid duration "4"; [^\n]+\n$/) });
    expect(server.calls).toEqual([]);
  });

  test('show lists the instances, newest first, after the lines it always had', async () => {
    const b = server.addBot({ name: 'github-deploy', roles: ['ci-deployer'], createTime: at('2026-03-24T11:00:00Z'), generation: 4, maxCertificateTtlSeconds: 1800 });
    const old = server.addBotInstance({ botName: 'github-deploy', generation: 1, createTime: at('2026-03-24T12:00:00Z'), lastRenewalTime: at('2026-03-24T12:00:00Z'), lock: { reason: 'certificate generation mismatch', createTime: at('2026-03-24T12:30:00Z'), expireTime: undefined, lockedBy: 'mezite' } });
    const cur = server.addBotInstance({
      botName: 'github-deploy',
      generation: 3,
      createTime: at('2026-03-24T13:00:00Z'),
      lastRenewalTime: at('2026-03-24T13:40:00Z'),
      heartbeat: { version: '0.1.0', hostname: 'runner-7', os: 'linux', renewalIntervalSeconds: 1200, oneShot: false, destinations: [] },
      lineage: [{ generation: 1, publicKeyFingerprint: 'SHA256:x', serial: '1', issueTime: undefined, expireTime: undefined, address: '' }],
    });
    server.addBotInstance({ botName: 'other-bot' });
    const r = await server.run(['bots', 'show', 'github-deploy']);
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout:
        'name:             github-deploy\n' +
        `id:               ${b.id}\n` +
        'roles:            ci-deployer\n' +
        'created_at:       2026-03-24T11:00:00Z\n' +
        'locked:           no\n' +
        'generation:       4\n' +
        'last_seen_at:     -\n' +
        'cert_expires_at:  -\n' +
        'max_cert_ttl:     30m\n' +
        'instances:        2\n' +
        '\n' +
        'ID                                    GENERATION  HOSTNAME  LAST_RENEWAL          LOCKED\n' +
        `${cur.id}  3           runner-7  2026-03-24T13:40:00Z  no\n` +
        `${old.id}  1           -         2026-03-24T12:00:00Z  yes\n`,
    });
    const json = JSON.parse((await server.run(['bots', 'show', 'github-deploy', '-o', 'json'])).stdout) as { max_certificate_ttl_seconds: number; instances: Array<Record<string, unknown>> };
    expect(json.max_certificate_ttl_seconds).toBe(1800);
    expect(json.instances.map((i) => [i['id'], i['generation'], i['locked']])).toEqual([
      [cur.id, 3, false],
      [old.id, 1, true],
    ]);
    expect(json.instances[0]).not.toHaveProperty('lineage');
  });

  test('show says when it lists only the newest 100 instances', async () => {
    server.addBot({ name: 'fleet', roles: ['ci-deployer'] });
    for (let n = 0; n < 101; n++) server.addBotInstance({ botName: 'fleet', createTime: new Date(Date.parse('2026-03-24T00:00:00Z') + n * 1000) });
    const out = (await server.run(['bots', 'show', 'fleet'])).stdout;
    expect(out).toContain('\ninstances:        100 newest shown (all: mezctl bots instances ls fleet)\n');
    expect(out.trimEnd().split('\n')).toHaveLength(10 + 1 + 1 + 100);
    expect((await server.run(['bots', 'show', 'fleet'], { prog: 'plexctl' })).stdout).toContain('(all: plexctl bots instances ls fleet)');
  });

  test('rotate-token prints the new token and the mezd hint', async () => {
    server.addBot({ name: 'github-deploy', roles: ['ci-deployer'] });
    const r = await server.run(['bots', 'rotate-token', 'github-deploy', '--token-ttl', '30m']);
    const token = /Join token: (tok-bot-\d+) /.exec(r.stdout)?.[1] as string;
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout: `Join token: ${token} (expires: 2026-03-24T14:30:00Z)\n\nUse this token with mezd identity:\nmezd identity start --auth-server=${server.address} --join-token=${token}\n`,
    });
    expect(server.calls).toEqual([{ method: 'BotService.RotateBotToken', request: { name: 'github-deploy', tokenTtlSeconds: 1800 } }]);
    const json = JSON.parse((await server.run(['bots', 'rotate-token', 'github-deploy', '-o', 'json'])).stdout);
    expect(json).toEqual({ name: 'github-deploy', join_token: expect.stringMatching(/^tok-bot-/), expires_at: '2026-03-24T15:00:00Z' });
  });

  test('lock and unlock', async () => {
    server.addBot({ name: 'github-deploy', roles: ['ci-deployer'] });
    const lock = await server.run(['bots', 'lock', 'github-deploy', '--reason', 'leaked runner', '--expires', '24h']);
    expect(lock).toEqual({ code: 0, stdout: 'Bot locked: github-deploy\n', stderr: '' });
    expect(server.calls[0]).toEqual({ method: 'BotService.LockBot', request: { name: 'github-deploy', reason: 'leaked runner', ttlSeconds: 86400 } });
    expect((await server.run(['bots', 'show', 'github-deploy'])).stdout).toContain('locked:           yes (reason: "leaked runner", expires: 2026-03-25T14:00:00Z, locked_by: user:u-1)\n');

    const unlock = await server.run(['bots', 'unlock', 'github-deploy']);
    expect(unlock).toEqual({ code: 0, stdout: 'Bot unlocked: github-deploy\n', stderr: '' });
    expect((await server.run(['bots', 'show', 'github-deploy'])).stdout).toContain('locked:           no\n');

    server.calls.length = 0;
    await server.run(['bots', 'lock', 'github-deploy']);
    expect(server.calls[0]?.request).toEqual({ name: 'github-deploy', reason: '', ttlSeconds: 0 });
    expect((await server.run(['bots', 'show', 'github-deploy'])).stdout).toContain('locked:           yes (expires: never, locked_by: user:u-1)\n');
  });

  test('a bad --expires is refused before any call', async () => {
    const r = await server.run(['bots', 'lock', 'github-deploy', '--expires', 'soon']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mezctl: Invalid argument: --expires: invalid duration "soon"; [^\n]+\n$/);
    expect(server.calls).toEqual([]);
  });

  test('rm, and errors for a bot that does not exist', async () => {
    server.addBot({ name: 'github-deploy', roles: ['ci-deployer'] });
    expect(await server.run(['bots', 'rm', 'github-deploy'])).toEqual({ code: 0, stdout: 'Bot removed: github-deploy\n', stderr: '' });
    for (const argv of [['bots', 'show', 'github-deploy'], ['bots', 'lock', 'github-deploy'], ['bots', 'unlock', 'github-deploy'], ['bots', 'rotate-token', 'github-deploy']]) {
      expect(await server.run(argv)).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Not found: bot "github-deploy" not found\n' });
    }
    expect(await server.run(['bots', 'show', 'github-deploy'], { prog: 'plexctl' })).toMatchObject({ stderr: 'plexctl: Not found: bot "github-deploy" not found\n' });
  });
});
