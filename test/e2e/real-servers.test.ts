import { createTestDatabase } from '@mezite/platform';
import { Client } from 'pg';
import { runBin } from '../harness/cli';
import { createRole } from '../harness/roles';
import { TestStack } from '../harness/test-stack';

/**
 * The same stack on the real PostgreSQL and Redis this machine runs (DATABASE_URL and
 * REDIS_URL set), and what happens when one service dies and comes back.
 */
describe('stack on real PostgreSQL and Redis', () => {
  let stack: TestStack;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await TestStack.start({ databaseUrl: db.url, redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' });
    await createRole(stack.cliEnv);
  }, 120_000);
  afterAll(async () => {
    await stack?.destroy();
    await db?.drop();
  });

  test('runs on the given servers: no embedded PostgreSQL, the schemas in the given database', async () => {
    expect(stack.status().embeddedPostgres).toBe(false);
    expect(stack.log).toContain('PostgreSQL from DATABASE_URL; cache: Redis from REDIS_URL');
    const r = await runBin('mezctl', ['bots', 'add', '--name=real-db-bot', '--roles=ci-deployer', '--token-ttl=15m'], { env: stack.cliEnv });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Bot created: real-db-bot \(roles: ci-deployer\)\nJoin token: tok-bot-[0-9a-f]{32} /);
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const bots = await c.query<{ name: string }>('SELECT name FROM auth.bots');
      expect(bots.rows.map((b) => b.name)).toEqual(['real-db-bot']);
      const tokens = await c.query<{ n: string }>('SELECT count(*) AS n FROM auth.join_tokens');
      expect(Number(tokens.rows[0]?.n)).toBe(1);
      const cas = await c.query<{ type: string }>('SELECT type FROM sshca.cert_authorities WHERE active ORDER BY type');
      expect(cas.rows.map((x) => x.type)).toEqual(['host', 'user']);
    } finally {
      await c.end();
    }
  });

  test('a dead token-service makes service-identities add fail fast with Unavailable, while bots add goes on; restarting it alone recovers', async () => {
    await stack.killService('token-service');
    const authPid = stack.status().services['auth-server'].pid;
    const down = await runBin('mezctl', ['service-identities', 'add', '--name=while-down'], { env: stack.cliEnv, timeoutMs: 20_000 });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^mezctl: Unavailable: token-service is unavailable/);
    expect(down.stderr.split('\n')).toHaveLength(2);
    // Nothing half-done: the identity whose client secret could not be set was not kept.
    const ls = await runBin('mezctl', ['service-identities', 'ls', '--output', 'json'], { env: stack.cliEnv });
    expect(ls.stderr).toBe('');
    expect((JSON.parse(ls.stdout) as { items: Array<{ name: string }> }).items.map((b) => b.name)).not.toContain('while-down');
    // Join tokens are the auth-server's own: bots are added without token-service.
    const bot = await runBin('mezctl', ['bots', 'add', '--name=while-token-service-down', '--roles=ci-deployer'], { env: stack.cliEnv, timeoutMs: 20_000 });
    expect(bot.stderr).toBe('');
    expect(bot.stdout).toMatch(/^Bot created: while-token-service-down /);

    await stack.startStopped();
    expect(stack.status().services['auth-server'].pid).toBe(authPid);
    // The auth-server's channel may still be between reconnect attempts (≤ 2 s backoff):
    // recovery means the call succeeds within seconds, with no restart of the auth-server.
    let up = await runBin('mezctl', ['service-identities', 'add', '--name=while-down'], { env: stack.cliEnv });
    for (let i = 0; i < 20 && /Unavailable/.test(up.stderr); i++) {
      await new Promise((r) => setTimeout(r, 500));
      up = await runBin('mezctl', ['service-identities', 'add', '--name=while-down'], { env: stack.cliEnv });
    }
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
  }, 90_000);

  test('a dead auth-server is Unavailable to the CLI, not a hang', async () => {
    await stack.killService('auth-server');
    const r = await runBin('mezctl', ['bots', 'ls'], { env: stack.cliEnv, timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mezctl: Unavailable: auth server localhost:\d+ is unavailable/);
    await stack.startStopped();
    const ok = await runBin('mezctl', ['bots', 'ls'], { env: stack.cliEnv });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^NAME\s+ROLES\s+LOCKED\s+GENERATION\s+CREATED_AT\n/);
  }, 90_000);
});
