import { randomBytes } from 'node:crypto';
import { Metadata } from '@mezite/platform';
import { ChaosEnv, eventually, joinBot, load, outcome, percentile, report, tally, timed, type Sample } from '../harness/chaos';
import { Fleet } from '../harness/fleet';

const bearer = (token: string) => ({ metadata: Metadata({ authorization: `Bearer ${token}` }) });
const pct = percentile;
const services = ['auth-server', 'auth-server#2', 'token-service', 'token-service#2', 'ssh-ca', 'ssh-ca#2'] as const;

/**
 * The stack with two replicas of each service on a PostgreSQL and a Redis of the
 * test's own, stopped and started again under load. Redis down: PostgreSQL decides
 * (chosen over refusing: docs/DECISIONS.md "Redis down"), so no revoked or cut-off
 * token is ever accepted and valid callers are still served. PostgreSQL down: calls
 * fail fast with Unavailable, nothing is half-written, and it all recovers on its own.
 */
describe('outages under load', () => {
  let env: ChaosEnv;
  let fleet: Fleet | undefined;
  beforeAll(async () => {
    env = await timed('outages: stack with 2 replicas up', () => ChaosEnv.start({ env: { MEZITE_AUTH_FAILURE_LIMIT: '100000' } }));
  }, 180_000);
  afterAll(async () => {
    await fleet?.stop();
    await env?.destroy();
  });

  const pids = () => services.map((s) => env.stack.status().services[s]?.pid);
  const issue = async () => {
    const t = await env.replica(0).tokens.issueServiceToken({ clientId: 'svc-deployer', clientSecret: 'svc-deployer-demo-secret', grantType: 'client_credentials' });
    return { token: t.accessToken, id: t.id };
  };

  test('Redis down: not one revoked or cut-off token is accepted; valid tokens are served from PostgreSQL; Redis back empty: recovery without a restart', async () => {
    const before = pids();
    const valid = await Promise.all([issue(), issue(), issue()]);
    const revokedBefore = await issue();
    const revokedDuring = await issue();
    const rotatedDuring = await issue();
    const cutBefore = await issue();
    // cutBefore is cut off by rotating its successor (at most two generations live).
    const succ = await env.replica(0).tokens.rotateToken({ id: cutBefore.id }, bearer(cutBefore.token));
    await env.replica(1).tokens.rotateToken({ id: succ.token?.id ?? '' }, bearer(succ.plaintext));
    await env.replica(1).tokens.deleteToken({ id: revokedBefore.id }, bearer(revokedBefore.token));
    const everyone = { valid: valid.map((v) => v.token), revokedBefore: [revokedBefore.token], revokedDuring: [revokedDuring.token], rotatedDuring: [rotatedDuring.token], cutBefore: [cutBefore.token] };
    const kinds = Object.keys(everyone) as Array<keyof typeof everyone>;
    // Warm every cache: both token-services' processes and Redis hold the tokens that are valid now.
    for (let i = 0; i < 8; i++) for (const t of [...everyone.valid, revokedDuring.token, rotatedDuring.token]) await env.replica(i).identity.whoAmI({}, bearer(t));

    /** When each token stopped being valid (the command that ended it returned). */
    const endedAt: Partial<Record<keyof typeof everyone, number>> = { revokedBefore: 0, cutBefore: 0 };
    let stop = false;
    const running = load(
      8,
      5000,
      (i) => {
        const what = kinds[i % kinds.length] as keyof typeof everyone;
        const list = everyone[what];
        return { what, p: env.replica(i).identity.whoAmI({}, bearer(list[i % list.length] as string)) };
      },
      () => stop,
    );
    await new Promise((r) => setTimeout(r, 1000));

    await env.redis.stop();
    const downAt = Date.now();
    // Revocation and rotation while Redis is away: the deletion is in PostgreSQL but
    // cannot be announced (Unavailable: retry); the rotation succeeds.
    const del = await outcome(env.replica(0).tokens.deleteToken({ id: revokedDuring.id }, bearer(revokedDuring.token)));
    endedAt.revokedDuring = Date.now();
    const r1 = await env.replica(1).tokens.rotateToken({ id: rotatedDuring.id }, bearer(rotatedDuring.token));
    await env.replica(0).tokens.rotateToken({ id: r1.token?.id ?? '' }, bearer(r1.plaintext)); // cuts rotatedDuring off now
    endedAt.rotatedDuring = Date.now();
    await new Promise((r) => setTimeout(r, 4000));

    await env.redis.start();
    const upAt = Date.now();
    // Recovery: the deletion that could not be announced completes on retry (by a sibling
    // token of the same identity: the revoked one no longer authenticates) once Redis answers.
    let retried = 0;
    const completed = await eventually(async () => (await outcome(env.replica(retried++).tokens.deleteToken({ id: revokedDuring.id }, bearer(valid[0]!.token)))) === 'ok', 20_000, 200);
    const recoveredAt = Date.now();
    await new Promise((r) => setTimeout(r, 2000));
    stop = true;
    const samples = await running;

    const phase = (s: Sample) => (s.sent < downAt ? 'before' : s.sent < upAt ? 'down' : 'after');
    for (const p of ['before', 'down', 'after']) {
      const ps = samples.filter((s) => phase(s) === p);
      report(`redis ${p}: ${ps.length} calls, p50 ${pct(ps.map((s) => s.ms), 50)} ms, p99 ${pct(ps.map((s) => s.ms), 99)} ms, max ${Math.max(...ps.map((s) => s.ms))} ms; ` + kinds.map((k) => `${k} ${JSON.stringify(tally(ps.filter((s) => s.what === k).map((s) => s.result)))}`).join('; '));
    }
    report(`redis: delete during the outage answered ${del}; recovery (a retried delete completes) ${((recoveredAt - upAt) / 1000).toFixed(1)} s after Redis returned`);
    expect(del).toBe('Unavailable');
    expect(completed).toBe(true);

    // Never accepted once ended, in any phase, on either replica.
    for (const k of ['revokedBefore', 'cutBefore', 'revokedDuring', 'rotatedDuring'] as const) {
      const late = samples.filter((s) => s.what === k && s.sent > (endedAt[k] ?? Infinity));
      expect(late.length).toBeGreaterThan(10);
      expect(late.filter((s) => s.result === 'ok')).toEqual([]);
    }
    // Valid callers were served throughout (from PostgreSQL while Redis was down).
    const validSamples = samples.filter((s) => s.what === 'valid');
    for (const p of ['before', 'down', 'after']) expect(validSamples.filter((s) => phase(s) === p).length).toBeGreaterThan(10);
    expect(tally(validSamples.map((s) => s.result))).toEqual({ ok: validSamples.length });
    expect(pids()).toEqual(before);
  }, 120_000);

  test('PostgreSQL restarted under load: calls fail fast with Unavailable, nothing is half-written, and everything recovers without a restart', async () => {
    const before = pids();
    const cached = await issue();
    for (let i = 0; i < 4; i++) await env.replica(i).identity.whoAmI({}, bearer(cached.token));
    const BOTS = 24;
    const names = Array.from({ length: BOTS }, (_, i) => `pg-${i}-${randomBytes(2).toString('hex')}`);
    const tokens = await Promise.all(names.map(async (name, i) => ({ name, token: await env.addBot(name, i) })));

    // Admin writes (a bot with its join token) and verifications of a cached API token, all along.
    let stop = false;
    const created: string[] = [];
    const others = load(
      4,
      2000,
      (i) => {
        if (i % 2 === 0) return { what: 'whoami', p: env.replica(i).identity.whoAmI({}, bearer(cached.token)) };
        const name = `pg-add-${i}-${randomBytes(2).toString('hex')}`;
        return { what: 'create', p: env.replica(i).bots.createBot({ name, roles: ['chaos'], tokenTtlSeconds: 600 }, env.admin()).then(() => void created.push(name)) };
      },
      () => stop,
    );
    await new Promise((r) => setTimeout(r, 300));

    // Bots joining (mezd's own loop) as PostgreSQL goes away under them: some joins
    // fail half-way, inside the transaction that redeems their token (rolled back), or
    // after it committed but before their answer was recorded (the retry, same key, gets
    // the same certificate).
    fleet = Fleet.start({ addrs: env.stack.authAddrs, ca: env.ca, tokens, channelsPerAddr: 2 });
    await new Promise((r) => setTimeout(r, 150));
    const joinedBefore = fleet.atGeneration(1);
    await env.pg.stop();
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    await env.pg.start();
    const upAt = Date.now();
    const allJoined = await eventually(() => fleet!.atGeneration(1) === BOTS || fleet!.ended().length > 0, 90_000, 200);
    const recoveredAt = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    const samples = await others;

    const down = samples.filter((s) => s.sent >= downAt && s.sent < upAt);
    const failed = samples.filter((s) => s.result !== 'ok');
    report(`postgres down ${((upAt - downAt) / 1000).toFixed(1)} s: ${down.length} admin/verification calls sent meanwhile, failures ${JSON.stringify(tally(failed.map((s) => `${s.what}:${s.result}`)))}, failure latency p50 ${pct(failed.map((s) => s.ms), 50)} ms, p99 ${pct(failed.map((s) => s.ms), 99)} ms, max ${Math.max(0, ...failed.map((s) => s.ms))} ms; cached-token verifications while down ${JSON.stringify(tally(down.filter((s) => s.what === 'whoami').map((s) => s.result)))}`);
    report(`postgres: ${joinedBefore} bots had joined when PostgreSQL stopped; ${fleet.atGeneration(1)}/${BOTS} joined, the last ${((recoveredAt - upAt) / 1000).toFixed(1)} s after PostgreSQL returned; join attempts ${fleet.stats.attempts}, failures ${JSON.stringify(fleet.stats.failed)}`);

    // No service died on the way (a connection PostgreSQL ended must never crash a process).
    expect(services.filter((s) => !env.stack.status().services[s]?.healthy)).toEqual([]);
    // mezd never gave up, and every bot got its certificate with its one token.
    expect(fleet.ended().map((b) => `${b.name}: ${String(b.ended)}`)).toEqual([]);
    expect(allJoined).toBe(true);
    // Calls failed only with Unavailable, never an internal error or a wrong refusal:
    // a join that failed half-way left its token usable at once (nothing to release),
    // so no retry is ever told its token is invalid.
    expect(down.length).toBeGreaterThan(10);
    expect([...new Set(failed.map((s) => s.result))].filter((r) => r !== 'Unavailable')).toEqual([]);
    expect(Object.keys(fleet.stats.failed).filter((c) => c !== 'Unavailable')).toEqual([]);

    // Nothing half-written: every bot has its join token (a failed creation left no bot);
    // each joined bot has exactly one redeemed token naming its one instance, a
    // certificate per generation and a successful join record; no token is redeemed
    // without an instance.
    const rows = await env.pg.query<{ name: string; generation: string; redeemed: string; tokens: string; instances: string; certs: string; joins: string }>(
      `SELECT b.name, b.generation::text AS generation,
         (SELECT count(*) FROM auth.join_tokens t JOIN auth.bot_instances i ON i.id = t.instance_id AND i.bot_id = b.id
            WHERE t.subject_id = b.id AND t.redeemed_at IS NOT NULL)::text AS redeemed,
         (SELECT count(*) FROM auth.join_tokens t WHERE t.subject_id = b.id)::text AS tokens,
         (SELECT count(*) FROM auth.bot_instances i WHERE i.bot_id = b.id)::text AS instances,
         (SELECT count(*) FROM sshca.issued_certificates c WHERE c.subject_id = b.id)::text AS certs,
         (SELECT count(*) FROM auth.audit_events a WHERE a.type = 'bot.join' AND a.result = 'success' AND a.target = 'bot:' || b.name)::text AS joins
       FROM auth.bots b WHERE b.name LIKE 'pg-%'`,
    );
    // A bot token is redeemed exactly when it names the instance its join created.
    expect(await env.pg.query<{ id: string }>(`SELECT id FROM auth.join_tokens WHERE subject_kind = 'bot' AND (redeemed_at IS NULL) <> (instance_id IS NULL)`)).toEqual([]);
    expect(rows.filter((r) => r.tokens !== '1').map((r) => r.name)).toEqual([]);
    for (const n of created) expect(rows.map((r) => r.name)).toContain(n);
    const held = new Map(fleet.bots.map((b) => [b.name, b.renewer.current()?.generation]));
    for (const n of names) {
      const r = rows.find((x) => x.name === n);
      expect({ name: n, redeemed: r?.redeemed, instances: r?.instances, joined: Number(r?.joins) >= 1, certified: Number(r?.certs) >= Number(r?.generation), current: held.get(n) === Number(r?.generation) }).toEqual({
        name: n,
        redeemed: '1',
        instances: '1',
        joined: true,
        certified: true,
        current: true,
      });
    }
    expect(pids()).toEqual(before);
    // Fully back: a new bot joins through each replica.
    for (const i of [0, 1]) await expect(joinBot(env.replica(i), await env.addBot(`pg-after-${i}-${randomBytes(2).toString('hex')}`, i))).resolves.toMatchObject({ generation: 1 });
  }, 150_000);
});
