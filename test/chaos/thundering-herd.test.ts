import { ChaosEnv, eventually, report, timed } from '../harness/chaos';
import { Fleet } from '../harness/fleet';

/**
 * 2,000 bots renewing after a 30-second outage of every auth-server replica (the size
 * the issue asks for; CI runs it). Smaller or larger runs, e.g. while working on it:
 *
 *   MEZITE_CHAOS_HERD_BOTS=500 MEZITE_CHAOS_HERD_OUTAGE_MS=10000 pnpm test:chaos -- thundering-herd
 *
 * Each bot is mezd's own IdentityRenewer and RenewalLoop in this process (jittered
 * exponential backoff, honouring the server's retry-after-ms). The auth-servers cap
 * calls in flight (MEZITE_MAX_IN_FLIGHT, low here so the herd certainly meets it) and
 * shed the rest with RESOURCE_EXHAUSTED.
 */
const BOTS = Number(process.env.MEZITE_CHAOS_HERD_BOTS ?? 2000);
const OUTAGE_MS = Number(process.env.MEZITE_CHAOS_HERD_OUTAGE_MS ?? 30_000);
const MAX_IN_FLIGHT = Number(process.env.MEZITE_CHAOS_HERD_MAX_IN_FLIGHT ?? 32);
/** Bounds on waiting for the fleet (never reached when things work; they are not timing assertions). */
const RECOVERY_BOUND_MS = Math.max(180_000, BOTS * 200);

describe(`thundering herd: ${BOTS} bots, ${OUTAGE_MS / 1000} s auth-server outage`, () => {
  let env: ChaosEnv;
  let fleet: Fleet | undefined;
  beforeAll(async () => {
    env = await timed('herd: stack with 2 replicas up', () => ChaosEnv.start({ env: { MEZITE_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT) } }));
  }, 180_000);
  afterAll(async () => {
    await fleet?.stop();
    await env?.destroy();
  });

  test('every bot joins, then renews after the outage: shed calls are retried with jitter, no bot is locked, no identity is lost', async () => {
    const tokens: Array<{ name: string; token: string }> = [];
    await timed(`herd: ${BOTS} bots created`, async () => {
      for (let i = 0; i < BOTS; i += 16) {
        const names = Array.from({ length: Math.min(16, BOTS - i) }, (_, k) => `herd-${i + k}`);
        tokens.push(...(await Promise.all(names.map(async (name, k) => ({ name, token: await env.addBot(name, k) })))));
      }
    });

    // All bots start at once: the first join is a herd of its own.
    let t = Date.now();
    fleet = Fleet.start({ addrs: env.stack.authAddrs, ca: env.ca, tokens, channelsPerAddr: 4 });
    const allJoined = await eventually(() => fleet!.atGeneration(1) === BOTS || fleet!.ended().length > 0, RECOVERY_BOUND_MS, 200);
    report(`herd: ${fleet.atGeneration(1)}/${BOTS} joined in ${((Date.now() - t) / 1000).toFixed(1)} s; attempts ${fleet.stats.attempts}, shed ${fleet.stats.shed}, other failures ${JSON.stringify(fleet.stats.failed)}`);
    expect(fleet.ended().map((b) => `${b.name}: ${String(b.ended)}`)).toEqual([]);
    expect(allJoined).toBe(true);

    // The outage: both auth-servers die; every bot's renewal falls due during it.
    const joinStats = { ...fleet.stats, failed: { ...fleet.stats.failed } };
    await env.stack.killService('auth-server');
    await env.stack.killService('auth-server#2');
    const downAt = Date.now();
    await fleet.renewAll();
    report(`herd: every renewal failed during the outage within ${((Date.now() - downAt) / 1000).toFixed(1)} s: ${JSON.stringify(fleet.stats.failed)}`);
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
    const restartAt = Date.now();
    await env.stack.startStopped();
    const upAt = Date.now();
    report(`herd: auth-servers restarted in ${((upAt - restartAt) / 1000).toFixed(1)} s`);
    t = Date.now();
    const allRenewed = await eventually(() => fleet!.atGeneration(2) === BOTS || fleet!.ended().length > 0, RECOVERY_BOUND_MS, 200);
    const shed = fleet.stats.shed - joinStats.shed;
    report(
      `herd: outage ${((upAt - downAt) / 1000).toFixed(1)} s (auth-servers back and healthy); ${fleet.atGeneration(2)}/${BOTS} renewed ${((Date.now() - t) / 1000).toFixed(1)} s later; ` +
        `attempts ${fleet.stats.attempts - joinStats.attempts}, shed ${shed}, other failures ${JSON.stringify(Object.fromEntries(Object.entries(fleet.stats.failed).map(([k, v]) => [k, v - (joinStats.failed[k] ?? 0)])))}`,
    );
    expect(fleet.ended().map((b) => `${b.name}: ${String(b.ended)}`)).toEqual([]);
    expect(allRenewed).toBe(true);
    // The servers shed load at least once in this test (the join herd or the renewal herd): the limiter is on the path.
    expect(fleet.stats.shed).toBeGreaterThan(0);

    // Nothing locked (a retried renewal presents the same key again, so it never looks
    // like a copied credential), nothing lost: each bot has one instance and holds the
    // certificate of its newest generation, and it is valid.
    const rows = await env.pg.query<{ name: string; generation: string; locked_at: Date | null; instances: string; instance_locked: string }>(
      `SELECT b.name, i.generation::text AS generation, b.locked_at,
         (SELECT count(*) FROM auth.bot_instances x WHERE x.bot_id = b.id)::text AS instances,
         (SELECT count(*) FROM auth.bot_instances x WHERE x.bot_id = b.id AND x.locked_at IS NOT NULL)::text AS instance_locked
       FROM auth.bots b LEFT JOIN auth.bot_instances i ON i.bot_id = b.id WHERE b.name LIKE 'herd-%'`,
    );
    expect(rows).toHaveLength(BOTS);
    expect(rows.filter((r) => r.locked_at !== null || r.instance_locked !== '0' || r.instances !== '1').map((r) => `${r.name}: ${r.instances} instances, ${r.instance_locked} locked`)).toEqual([]);
    const held = new Map(fleet.bots.map((b) => [b.name, b.renewer.current()]));
    const mismatched = rows.filter((r) => held.get(r.name)?.generation !== Number(r.generation) || !(held.get(r.name)!.validBefore.getTime() > Date.now()));
    expect(mismatched.map((r) => `${r.name}: server ${r.generation}, bot ${held.get(r.name)?.generation}`)).toEqual([]);
  }, 900_000);
});
