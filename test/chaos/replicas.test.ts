import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { Metadata } from '@mezite/platform';
import { asBot, ChaosEnv, completeRenewal, joinBot, load, newKey, outcome, report, tally, timed, untilAvailable, type Held, type Sample } from '../harness/chaos';
import { runBin } from '../harness/cli';

/**
 * Two replicas of every service on one PostgreSQL and one Redis, clients spread over
 * both auth-servers: one-time join tokens and renewal generations hold exactly once,
 * revocations hold on every replica as soon as the command returns, a join with every
 * ssh-ca down consumes nothing, and one replica of each service down costs nothing.
 */
describe('replicas', () => {
  let env: ChaosEnv;
  beforeAll(async () => {
    // Refused calls after a revocation count against the failed-authentication limiter;
    // raised so the load of these tests never trips it for the admin's calls.
    env = await timed('replicas: stack with 2 replicas up', () => ChaosEnv.start({ env: { MEZITE_AUTH_FAILURE_LIMIT: '100000' } }));
  }, 180_000);
  afterAll(async () => env?.destroy());

  test('the harness runs two copies of each service on their own ports and pids', () => {
    const s = env.stack.status().services;
    const names = ['auth-server', 'auth-server#2', 'token-service', 'token-service#2', 'ssh-ca', 'ssh-ca#2'] as const;
    for (const n of names) expect(s[n]).toMatchObject({ healthy: true });
    expect(new Set(names.map((n) => s[n]?.pid)).size).toBe(6);
    expect(new Set(names.map((n) => s[n]?.addr)).size).toBe(6);
    expect(env.stack.authAddrs).toHaveLength(2);
  });

  const ROUNDS = Number(process.env.MEZITE_CHAOS_JOIN_ROUNDS ?? 20);
  const CONCURRENT = 100;
  test(`${CONCURRENT} concurrent joins with one token, spread over both auth-servers, ${ROUNDS} times: one success, one certificate, one audit record each time`, async () => {
    const bots: string[] = [];
    const started = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      const name = `once-${round}-${randomBytes(3).toString('hex')}`;
      const token = await env.addBot(name, round);
      const key = newKey();
      const results = await Promise.all(
        Array.from({ length: CONCURRENT }, (_, i) => outcome(env.replica(i).join.join({ joinToken: token, publicKey: key.publicKey, requestedTtlSeconds: 600 }))),
      );
      expect(tally(results)).toEqual({ ok: 1, Unauthenticated: CONCURRENT - 1 });
      bots.push(name);
    }
    report(`exactly-once: ${ROUNDS} rounds of ${CONCURRENT} concurrent joins in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // In the shared database: one certificate and one successful join per bot, the token redeemed.
    const rows = await env.pg.query<{ name: string; generation: string; certs: string; joins: string; redeemed: string }>(
      `SELECT b.name, b.generation::text AS generation,
         (SELECT count(*) FROM sshca.issued_certificates c WHERE c.subject_id = b.id)::text AS certs,
         (SELECT count(*) FROM auth.audit_events a WHERE a.type = 'bot.join' AND a.result = 'success' AND a.target = 'bot:' || b.name)::text AS joins,
         (SELECT count(*) FROM token.join_tokens t WHERE t.subject_id = b.id AND t.redeemed_at IS NOT NULL)::text AS redeemed
       FROM auth.bots b WHERE b.name = ANY($1) ORDER BY b.name`,
      [bots],
    );
    expect(rows).toHaveLength(ROUNDS);
    for (const r of rows) expect(r).toEqual({ name: r.name, generation: '1', certs: '1', joins: '1', redeemed: '1' });
  }, 240_000);

  test('concurrent renewals presenting the same generation, over both replicas: exactly one wins, the bot is not locked', async () => {
    const name = `renew-race-${randomBytes(3).toString('hex')}`;
    let held: Held = await joinBot(env.replica(0), await env.addBot(name));
    const RACERS = 20;
    for (let round = 0; round < 5; round++) {
      // Every racer has its challenge before any completes: they are truly concurrent.
      const begun = await Promise.all(Array.from({ length: RACERS }, (_, i) => env.replica(i).join.beginRenewal({ certificate: held.certificate })));
      const winners: Held[] = [];
      const results = await Promise.all(
        begun.map((b, i) =>
          outcome(
            completeRenewal(env.replica(i), held, b.challengeId, Buffer.from(b.challenge)).then((h) => {
              winners.push(h);
            }),
          ),
        ),
      );
      expect(tally(results)).toEqual({ ok: 1, FailedPrecondition: RACERS - 1 });
      expect(winners).toHaveLength(1);
      expect(winners[0]?.generation).toBe(held.generation + 1);
      held = winners[0] as Held;
    }
    const [bot] = await env.pg.query<{ generation: string; locked_at: Date | null; renewals: string }>(
      `SELECT generation::text AS generation, locked_at,
         (SELECT count(*) FROM auth.audit_events a WHERE a.type = 'bot.renew' AND a.result = 'success' AND a.target = 'bot:' || $1)::text AS renewals
       FROM auth.bots WHERE name = $1`,
      [name],
    );
    expect(bot).toEqual({ generation: '6', locked_at: null, renewals: '5' });
  }, 120_000);

  test('after `mezctl identity-tokens delete` returns, not one request with the token succeeds on either replica', async () => {
    const issued = await env.replica(0).tokens.issueServiceToken({ clientId: 'svc-deployer', clientSecret: 'svc-deployer-demo-secret', grantType: 'client_credentials' });
    const bearer = () => ({ metadata: Metadata({ authorization: `Bearer ${issued.accessToken}` }) });
    // Cached everywhere it can be: both token-services' processes (the auth-servers balance over them) and Redis.
    for (let i = 0; i < 8; i++) await env.replica(i).identity.whoAmI({}, bearer());
    const file = joinPath(env.stack.dataDir, 'svc.token');
    writeFileSync(file, issued.accessToken, { mode: 0o600 });

    let returnedAt: number | undefined;
    const running = load(8, 2000, (i) => env.replica(i).identity.whoAmI({}, bearer()), () => returnedAt !== undefined && Date.now() > returnedAt + 2000);
    await new Promise((r) => setTimeout(r, 500));
    const del = await runBin('mezctl', ['identity-tokens', 'delete', '--id', issued.id, '--token-file', file], { env: env.stack.cliEnv });
    returnedAt = Date.now();
    expect(del).toMatchObject({ code: 0, stderr: '' });
    const samples = await running;

    const before = samples.filter((s) => s.sent < returnedAt!);
    const after = samples.filter((s) => s.sent > returnedAt!);
    report(`revocation (API token): ${before.length} calls before the delete returned (${tally(before.map((s) => s.result)).ok ?? 0} ok), ${after.length} after: ${JSON.stringify(tally(after.map((s) => s.result)))}`);
    expect(tally(before.map((s) => s.result)).ok).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(50);
    expect(tally(after.map((s) => s.result))).toEqual({ Unauthenticated: after.length });
  }, 60_000);

  test('after `mezctl bots lock` returns, not one renewal or certificate-authenticated call of the bot succeeds on either replica', async () => {
    const name = `lock-${randomBytes(3).toString('hex')}`;
    let held = await joinBot(env.replica(0), await env.addBot(name));
    let lockedAt: number | undefined;
    const done = () => lockedAt !== undefined && Date.now() > lockedAt + 2000;
    // Renewals in a row (each success is the next one's credential), and msh-style calls as the bot.
    const renewals: Sample[] = [];
    const renewing = (async () => {
      for (let i = 0; i < 500 && !done(); i++) {
        const r = env.replica(i);
        const sample: Sample = { what: 'renewal', sent: 0, ms: 0, result: '' };
        sample.result = await outcome(
          r.join.beginRenewal({ certificate: held.certificate }).then((b) => {
            sample.sent = Date.now();
            return completeRenewal(r, held, b.challengeId, Buffer.from(b.challenge)).then((h) => void (held = h));
          }),
        );
        if (sample.sent === 0) sample.sent = Date.now();
        renewals.push(sample);
      }
    })();
    const calls = load(6, 2000, (i) => env.replica(i).nodes.listNodes({ pageSize: 1 }, asBot(held)), done);
    await new Promise((r) => setTimeout(r, 500));
    const lock = await runBin('mezctl', ['bots', 'lock', name, '--reason', 'chaos: lock under load'], { env: env.stack.cliEnv });
    lockedAt = Date.now();
    expect(lock).toMatchObject({ code: 0, stderr: '' });
    const viaCert = await calls;
    await renewing;
    const samples = [...viaCert, ...renewals];

    const before = samples.filter((s) => s.sent < lockedAt!);
    const after = samples.filter((s) => s.sent > lockedAt!);
    report(`revocation (bot lock): ${before.length} calls before the lock returned (${tally(before.map((s) => s.result)).ok ?? 0} ok), ${after.length} after: ${JSON.stringify(tally(after.map((s) => s.result)))}`);
    expect(tally(before.map((s) => s.result)).ok).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(50);
    expect(after.filter((s) => s.result === 'ok')).toEqual([]);
  }, 60_000);

  test('with one replica of each service killed, the others serve every call; the dead ones come back alone', async () => {
    const before = env.stack.status().services;
    await env.stack.killService('auth-server');
    await env.stack.killService('token-service');
    await env.stack.killService('ssh-ca');
    // The survivors: the second auth-server balances over what is left of token-service and ssh-ca.
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        env
          .addBot(`failover-${i}-${randomBytes(2).toString('hex')}`, 1)
          .then((token) => joinBot(env.replica(1), token))
          .then(
            () => 'ok',
            (err: Error) => `${(err as { code?: string }).code}: ${err.message}`,
          ),
      ),
    );
    expect(results).toEqual(Array(10).fill('ok'));
    await expect(outcome(env.replica(0).identity.whoAmI({}, env.admin()))).resolves.toBe('Unavailable');

    await env.stack.startStopped();
    const after = env.stack.status().services;
    for (const n of ['auth-server#2', 'token-service#2', 'ssh-ca#2'] as const) expect(after[n]?.pid).toBe(before[n]?.pid);
    // Our client's channel to the restarted auth-server reconnects on its own (backoff ≤ 2 s).
    for (const i of [0, 1]) await untilAvailable(() => env.replica(i).identity.whoAmI({}, env.admin()));
  }, 90_000);

  test('with every ssh-ca down a join fails with Unavailable and consumes nothing; the same token joins once ssh-ca is back', async () => {
    const name = `atomic-${randomBytes(3).toString('hex')}`;
    const token = await env.addBot(name);
    await env.stack.killService('ssh-ca');
    await env.stack.killService('ssh-ca#2');
    const t = Date.now();
    // One after the other (a concurrent second join would find the token claimed): each is given back.
    const down = [await outcome(joinBot(env.replica(0), token)), await outcome(joinBot(env.replica(1), token))];
    report(`atomic join: two joins with ssh-ca down answered in ${Date.now() - t} ms: ${down.join(', ')}`);
    expect(down).toEqual(['Unavailable', 'Unavailable']);
    const [row] = await env.pg.query<{ redeemed_at: Date | null; claim_id: string | null; generation: string; certs: string }>(
      `SELECT t.redeemed_at, t.claim_id, b.generation::text AS generation, (SELECT count(*) FROM sshca.issued_certificates c WHERE c.subject_id = b.id)::text AS certs
       FROM auth.bots b JOIN token.join_tokens t ON t.subject_id = b.id WHERE b.name = $1`,
      [name],
    );
    expect(row).toEqual({ redeemed_at: null, claim_id: null, generation: '0', certs: '0' });

    await env.stack.startStopped();
    // A client retries while the auth-server's channels reconnect (their backoff is at most 2 s).
    const held = await untilAvailable(() => joinBot(env.replica(1), token));
    expect(held.generation).toBe(1);
    await expect(outcome(joinBot(env.replica(0), token))).resolves.toBe('Unauthenticated');
  }, 90_000);
});
