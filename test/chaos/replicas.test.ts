import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { Metadata } from '@mezite/platform';
import { parseCertificate } from '@mezite/ssh';
import { asBot, ChaosEnv, joinBot, load, newKey, outcome, renewBot, report, tally, timed, untilAvailable, type Held, type Sample } from '../harness/chaos';
import { runBin } from '../harness/cli';

/**
 * Two replicas of every service on one PostgreSQL and one Redis, clients spread over
 * both auth-servers: one-time join tokens and renewal generations hold exactly once
 * (a repeat with the same key is a retry and gets the same certificate; with another
 * key a join is refused and a renewal is a copied credential that locks the instance),
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
  const KEYS = 4;
  test(`${CONCURRENT} concurrent joins with one token and ${KEYS} keys, spread over both auth-servers, ${ROUNDS} times: one key wins, its racers all get the one certificate, the others are refused`, async () => {
    const bots: string[] = [];
    const started = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      const name = `once-${round}-${randomBytes(3).toString('hex')}`;
      const token = await env.addBot(name, round);
      const keys = Array.from({ length: KEYS }, () => newKey());
      const certs: Array<string | undefined> = Array(CONCURRENT);
      const results = await Promise.all(
        Array.from({ length: CONCURRENT }, (_, i) =>
          outcome(env.replica(i).join.join({ joinToken: token, publicKey: keys[i % KEYS]!.publicKey, requestedTtlSeconds: 600 }).then((r) => void (certs[i] = r.certificate))),
        ),
      );
      // Exactly one key won; a racer with it is a retry of the winning join (same certificate).
      const winning = [...new Set(results.flatMap((r, i) => (r === 'ok' ? [i % KEYS] : [])))];
      expect(winning).toHaveLength(1);
      const perKey = CONCURRENT / KEYS;
      expect(tally(results)).toEqual({ ok: perKey, Unauthenticated: CONCURRENT - perKey });
      expect(results.filter((r, i) => (r === 'ok') !== (i % KEYS === winning[0]))).toEqual([]);
      expect(new Set(certs.filter((c) => c !== undefined)).size).toBe(1);
      bots.push(name);
    }
    report(`exactly-once: ${ROUNDS} rounds of ${CONCURRENT} concurrent joins in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // In the shared database: one certificate, one instance and one join (the rest are
    // recorded as replays) per bot; the token redeemed and naming that instance.
    const rows = await env.pg.query<{ name: string; generation: string; certs: string; instances: string; joins: string; redeemed: string }>(
      `SELECT b.name, b.generation::text AS generation,
         (SELECT count(*) FROM sshca.issued_certificates c WHERE c.subject_id = b.id)::text AS certs,
         (SELECT count(*) FROM auth.bot_instances i WHERE i.bot_id = b.id)::text AS instances,
         (SELECT count(*) FROM auth.audit_events a WHERE a.type = 'bot.join' AND a.result = 'success' AND a.target = 'bot:' || b.name AND NOT a.details ? 'replay')::text AS joins,
         (SELECT count(*) FROM auth.join_tokens t JOIN auth.bot_instances i ON i.id = t.instance_id AND i.bot_id = b.id
            WHERE t.subject_id = b.id AND t.redeemed_at IS NOT NULL)::text AS redeemed
       FROM auth.bots b WHERE b.name = ANY($1) ORDER BY b.name`,
      [bots],
    );
    expect(rows).toHaveLength(ROUNDS);
    for (const r of rows) expect(r).toEqual({ name: r.name, generation: '1', certs: '1', instances: '1', joins: '1', redeemed: '1' });
  }, 240_000);

  /** The instance's row, its lineage and what ssh-ca issued for the bot (whose only instance it is). */
  const instanceState = async (name: string) => {
    const [inst] = await env.pg.query<{ id: string; generation: string; locked_at: Date | null; locked_by: string | null; bot_locked_at: Date | null }>(
      `SELECT i.id, i.generation::text AS generation, i.locked_at, i.locked_by, b.locked_at AS bot_locked_at FROM auth.bot_instances i JOIN auth.bots b ON b.id = i.bot_id WHERE b.name = $1`,
      [name],
    );
    const lineage = await env.pg.query<{ generation: string; serial: string; key_fingerprint: string }>(
      `SELECT g.generation::text AS generation, g.serial, g.key_fingerprint FROM auth.bot_instance_generations g JOIN auth.bot_instances i ON i.id = g.instance_id JOIN auth.bots b ON b.id = i.bot_id WHERE b.name = $1 ORDER BY g.generation`,
      [name],
    );
    const issued = await env.pg.query<{ serial: string; fingerprint: string; revoked: boolean }>(
      `SELECT c.serial::text AS serial, c.public_key_fingerprint AS fingerprint, EXISTS (SELECT 1 FROM auth.revocations r WHERE r.serial = c.serial::text) AS revoked
       FROM sshca.issued_certificates c JOIN auth.bots b ON b.id = c.subject_id WHERE b.name = $1`,
      [name],
    );
    const renewals = await env.pg.query<{ replay: string | null }>(`SELECT details->>'replay' AS replay FROM auth.audit_events WHERE type = 'bot.renew' AND result = 'success' AND target = 'bot:' || $1`, [name]);
    return { inst, lineage, issued, renewals: { first: renewals.filter((r) => r.replay === null).length, replays: renewals.filter((r) => r.replay !== null).length } };
  };

  test('concurrent renewals presenting one generation with the same new key, over both replicas: every racer gets the one certificate, nothing is locked', async () => {
    const name = `renew-retry-${randomBytes(3).toString('hex')}`;
    let held: Held = await joinBot(env.replica(0), await env.addBot(name));
    const RACERS = 20;
    const ROUNDS_OF_RENEWAL = 5;
    for (let round = 0; round < ROUNDS_OF_RENEWAL; round++) {
      // One key for every racer: mezd retrying a renewal whose answer it lost, many times at once.
      const next = newKey();
      const answers: Held[] = [];
      const results = await Promise.all(Array.from({ length: RACERS }, (_, i) => outcome(renewBot(env.replica(i), held, next).then((h) => void answers.push(h)))));
      expect(tally(results)).toEqual({ ok: RACERS });
      expect(new Set(answers.map((h) => h.certificate)).size).toBe(1);
      expect(answers[0]).toMatchObject({ generation: held.generation + 1, instanceId: held.instanceId });
      held = answers[0] as Held;
    }
    const { inst, lineage, issued, renewals } = await instanceState(name);
    expect(inst).toMatchObject({ generation: String(1 + ROUNDS_OF_RENEWAL), locked_at: null, bot_locked_at: null });
    // One step per generation, each certifying its own key; the last one is what the bot holds.
    expect(lineage.map((g) => g.generation)).toEqual(Array.from({ length: 1 + ROUNDS_OF_RENEWAL }, (_, i) => String(i + 1)));
    expect(new Set(lineage.map((g) => g.key_fingerprint)).size).toBe(lineage.length);
    expect(lineage.at(-1)?.serial).toBe(parseCertificate(held.certificate).serial.toString());
    // Racers that lost the advance had a certificate signed that nobody got; it can only
    // be for the lineage's own key (and nothing needed revoking).
    const keys = new Set(lineage.map((g) => g.key_fingerprint));
    expect(issued.filter((c) => !keys.has(c.fingerprint))).toEqual([]);
    expect(issued.filter((c) => c.revoked)).toEqual([]);
    expect(renewals).toEqual({ first: ROUNDS_OF_RENEWAL, replays: (RACERS - 1) * ROUNDS_OF_RENEWAL });
    // …and the bot renews on.
    await expect(renewBot(env.replica(1), held)).resolves.toMatchObject({ generation: held.generation + 1 });
  }, 120_000);

  test('concurrent renewals presenting one generation with different keys, over both replicas: exactly one certificate is answered, the instance ends locked and every certificate it was issued is revoked', async () => {
    const name = `renew-copy-${randomBytes(3).toString('hex')}`;
    const held: Held = await joinBot(env.replica(0), await env.addBot(name));
    const RACERS = 20;
    // A copied credential: the same certificate and key, each racer asking for its own new key.
    const answers: Held[] = [];
    const results = await Promise.all(Array.from({ length: RACERS }, (_, i) => outcome(renewBot(env.replica(i), held).then((h) => void answers.push(h)))));
    report(`copied credential: ${RACERS} concurrent renewals with different keys: ${JSON.stringify(tally(results))}`);
    // Exactly once: one racer moved the instance on and got its certificate. Every other
    // one is refused: as a copy (PermissionDenied), or, once the lock has revoked the
    // presented certificate, as a revoked certificate (Unauthenticated).
    expect(tally(results).ok).toBe(1);
    expect(results.filter((r) => r !== 'ok' && r !== 'PermissionDenied' && r !== 'Unauthenticated')).toEqual([]);
    expect(answers).toHaveLength(1);
    const winner = answers[0] as Held;
    expect(winner).toMatchObject({ generation: 2, instanceId: held.instanceId });

    const { inst, lineage, issued, renewals } = await instanceState(name);
    // The lineage has one successor, the answered one; the instance is locked (the bot is not).
    expect(inst).toMatchObject({ id: held.instanceId, generation: '2', locked_at: expect.any(Date), locked_by: 'mezite', bot_locked_at: null });
    expect(lineage.map((g) => [g.generation, g.serial])).toEqual([
      ['1', parseCertificate(held.certificate).serial.toString()],
      ['2', parseCertificate(winner.certificate).serial.toString()],
    ]);
    expect(renewals).toEqual({ first: 1, replays: 0 });
    // Every certificate ssh-ca signed for the instance is revoked: the join's, the
    // answered one and those signed for racers that lost (never delivered).
    expect(issued.length).toBeGreaterThanOrEqual(2);
    expect(issued.filter((c) => !c.revoked)).toEqual([]);
    // The winner's certificate is as dead as the copy's: it renews nothing and authenticates nothing.
    for (const i of [0, 1]) {
      await expect(outcome(renewBot(env.replica(i), winner))).resolves.toMatch(/^(PermissionDenied|Unauthenticated)$/);
      await expect(outcome(env.replica(i).nodes.listNodes({ pageSize: 1 }, asBot(winner)))).resolves.toBe('Unauthenticated');
    }
    // The bot itself is not locked: a new instance joins and renews.
    const again = await env.replica(1).bots.addBotInstance({ name, tokenTtlSeconds: 600 }, env.admin());
    const fresh = await joinBot(env.replica(1), again.joinToken);
    expect(fresh.instanceId).not.toBe(held.instanceId);
    await expect(renewBot(env.replica(0), fresh)).resolves.toMatchObject({ generation: 2, instanceId: fresh.instanceId });
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
        const sample: Sample = { what: 'renewal', sent: Date.now(), ms: 0, result: '' };
        sample.result = await outcome(renewBot(env.replica(i), held).then((h) => void (held = h)));
        sample.ms = Date.now() - sample.sent;
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
    // Two at once, each through its own auth-server: a failed join rolls its redemption
    // back, so the other one (waiting on the token's row, or coming after) redeems and
    // fails in its turn, and the token is usable again at once.
    const down = await Promise.all([outcome(joinBot(env.replica(0), token)), outcome(joinBot(env.replica(1), token))]);
    report(`atomic join: two joins with ssh-ca down answered in ${Date.now() - t} ms: ${down.join(', ')}`);
    expect(down).toEqual(['Unavailable', 'Unavailable']);
    const [row] = await env.pg.query<{ redeemed_at: Date | null; instance_id: string | null; generation: string; instances: string; certs: string }>(
      `SELECT t.redeemed_at, t.instance_id, b.generation::text AS generation,
         (SELECT count(*) FROM auth.bot_instances i WHERE i.bot_id = b.id)::text AS instances,
         (SELECT count(*) FROM sshca.issued_certificates c WHERE c.subject_id = b.id)::text AS certs
       FROM auth.bots b JOIN auth.join_tokens t ON t.subject_id = b.id WHERE b.name = $1`,
      [name],
    );
    expect(row).toEqual({ redeemed_at: null, instance_id: null, generation: '0', instances: '0', certs: '0' });

    await env.stack.startStopped();
    // A client retries while the auth-server's channels reconnect (their backoff is at most 2 s).
    const key = newKey();
    const first = await untilAvailable(() => env.replica(1).join.join({ joinToken: token, publicKey: key.publicKey, requestedTtlSeconds: 600 }));
    expect(first.generation).toBe(1);
    // The token is spent: another key is refused; the same key is a retry and gets the same certificate.
    await expect(outcome(joinBot(env.replica(0), token))).resolves.toBe('Unauthenticated');
    // (Through the other auth-server, whose channel to ssh-ca may still be in its backoff:
    // the retry is answered with the CA lists, which come from ssh-ca.)
    await expect(untilAvailable(() => env.replica(0).join.join({ joinToken: token, publicKey: key.publicKey, requestedTtlSeconds: 600 }))).resolves.toMatchObject({ certificate: first.certificate, instanceId: first.instanceId });
  }, 90_000);
});
