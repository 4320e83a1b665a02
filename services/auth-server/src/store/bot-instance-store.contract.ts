import { randomBytes, randomUUID } from 'node:crypto';
import type { Bot, BotLock, BotStore } from '../domain/bot';
import type { BotHeartbeat, BotInstance, BotInstanceStore, LineageStep } from '../domain/bot-instance';

/** A revocation as stored (auth.revocations, or the memory revocation store). */
export interface StoredRevocation {
  serial: string | null;
  subjectId: string | null;
  reason: string;
  createdAt: Date;
  expiresAt: Date;
}

/** What a contract run needs of the store's world. */
export interface BotInstanceStoreFixture {
  store: BotInstanceStore;
  /** A second view of the same data (another replica; the store itself in memory). */
  peer: BotInstanceStore;
  /** The bots the instances belong to (a renewal also moves the bot's last-seen columns). */
  bots: BotStore;
  /** A tenant of its own for one test (created where the schema needs it). */
  newTenant(): Promise<string>;
  /** Stores an instance with its first step, as a join's redemption does (JoinWrites.createInstance). */
  createInstance(instance: BotInstance, first: LineageStep): Promise<void>;
  /** The tenant's revocations, read from where the KRL reads them. */
  revocations(tenantId: string): Promise<StoredRevocation[]>;
  close(): Promise<void>;
}

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
let serials = 1000;

/** A lineage step on a fresh key: issued at `issuedAt`, living an hour unless told. */
export function lineageStep(instanceId: string, generation: number, over: Partial<LineageStep> = {}): LineageStep {
  const blob = randomBytes(51).toString('base64');
  return {
    instanceId,
    generation,
    publicKey: `ssh-ed25519 ${blob}`,
    keyFingerprint: `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`,
    serial: String(serials++),
    certificate: `ssh-ed25519-cert-v01@openssh.com ${randomBytes(60).toString('base64')}`,
    issuedAt: t(generation * 10),
    expiresAt: t(generation * 10 + 3600),
    address: '192.0.2.1',
    requestId: `req-${generation}`,
    ...over,
  };
}

/** A bot as BotManager makes it. */
export function newBot(tenantId: string, name = `bot-${randomBytes(4).toString('hex')}`): Bot {
  return { id: randomUUID(), tenantId, name, roles: ['ci-deployer'], createdAt: t(0), generation: 0, lastSeenAt: null, certExpiresAt: null, lock: null, maxCertTtlMs: null };
}

/** An instance as a join creates it: at generation 1, seen at its creation from its first step's address. */
export function newInstance(bot: Bot, first: Omit<LineageStep, 'instanceId'> & { instanceId?: string }, over: Partial<BotInstance> = {}): { instance: BotInstance; first: LineageStep } {
  const id = first.instanceId ?? over.id ?? randomUUID();
  const createdAt = over.createdAt ?? first.issuedAt;
  const instance: BotInstance = {
    id,
    tenantId: bot.tenantId,
    botId: bot.id,
    generation: first.generation,
    joinMethod: 'token',
    joinTokenId: randomUUID(),
    createdAt,
    lastRenewalAt: createdAt,
    lastAddress: first.address,
    heartbeat: null,
    certExpiresAt: first.expiresAt,
    lock: null,
    legacyGeneration: null,
    ...over,
  };
  return { instance, first: { ...first, instanceId: id } };
}

const heartbeat: BotHeartbeat = {
  version: '1.4.0',
  hostname: 'ci-runner-7',
  os: 'linux/amd64',
  renewalIntervalMs: 1_200_000,
  oneShot: false,
  destinations: [
    { destination: 'directory:/var/lib/mezd', healthy: true, error: '', updatedAt: t(95) },
    { destination: 'memory', healthy: false, error: 'not written yet', updatedAt: null },
  ],
};

/** The one suite every BotInstanceStore passes (STYLE.md §4). */
export function botInstanceStoreContract(name: string, make: () => Promise<BotInstanceStoreFixture>): void {
  describe(`BotInstanceStore contract: ${name}`, () => {
    let f: BotInstanceStoreFixture;
    beforeAll(async () => {
      f = await make();
    });
    afterAll(async () => f?.close());

    /** A bot of the tenant with one instance at generation 1. */
    const joined = async (tenantId: string, over: Partial<BotInstance> = {}, bot?: Bot) => {
      const b = bot ?? newBot(tenantId);
      if (!bot) await f.bots.create(b);
      const id = randomUUID();
      const { instance, first } = newInstance(b, lineageStep(id, 1), { id, ...over });
      await f.createInstance(instance, first);
      return { bot: b, instance, first };
    };
    const lock = (reason: string, at: Date): BotLock => ({ reason, lockedAt: at, expiresAt: null, lockedBy: 'mezite' });

    test('an instance reads back as created, with its first step; another tenant sees nothing of it', async () => {
      const [tenantA, tenantB] = [await f.newTenant(), await f.newTenant()];
      const { bot, instance, first } = await joined(tenantA, { heartbeat });
      expect(await f.store.get(tenantA, instance.id)).toEqual(instance);
      expect(await f.store.lineage(tenantA, instance.id)).toEqual([first]);
      expect(await f.store.step(tenantA, instance.id, 1)).toEqual(first);
      expect(await f.store.step(tenantA, instance.id, 2)).toBeNull();
      expect(await f.bots.getById(tenantA, bot.id)).toMatchObject({ generation: 1, lastSeenAt: instance.createdAt, certExpiresAt: first.expiresAt });

      expect(await f.store.get(tenantB, instance.id)).toBeNull();
      expect(await f.store.lineage(tenantB, instance.id)).toEqual([]);
      expect(await f.store.step(tenantB, instance.id, 1)).toBeNull();
      expect(await f.store.list(tenantB, { limit: 10 })).toEqual([]);
      expect(await f.store.list(tenantB, { botId: bot.id, limit: 10 })).toEqual([]);
      // Ids come from certificates: a malformed one is no instance, not an error.
      expect(await f.store.get(tenantA, 'not-a-uuid')).toBeNull();
      expect(await f.store.step(tenantA, 'not-a-uuid', 1)).toBeNull();
      expect(await f.store.advance(tenantA, lineageStep('not-a-uuid', 2), { at: t(100), address: '', heartbeat: null })).toBe(false);
    });

    test('advance moves on only from the generation before the step, with the activity, and only once per generation', async () => {
      const [tenantA, tenantB] = [await f.newTenant(), await f.newTenant()];
      const { bot, instance, first } = await joined(tenantA);
      const activity = { at: t(100), address: '198.51.100.7', heartbeat };
      expect(await f.store.advance(tenantA, lineageStep(instance.id, 3), activity)).toBe(false); // skips one
      expect(await f.store.advance(tenantA, lineageStep(instance.id, 1), activity)).toBe(false); // its own generation
      const s2 = lineageStep(instance.id, 2);
      expect(await f.store.advance(tenantB, s2, activity)).toBe(false); // another tenant's
      expect(await f.store.get(tenantA, instance.id)).toEqual(instance);
      expect(await f.store.lineage(tenantA, instance.id)).toEqual([first]);

      expect(await f.store.advance(tenantA, s2, activity)).toBe(true);
      expect(await f.store.get(tenantA, instance.id)).toEqual({ ...instance, generation: 2, lastRenewalAt: activity.at, lastAddress: activity.address, heartbeat, certExpiresAt: s2.expiresAt });
      expect(await f.store.step(tenantA, instance.id, 2)).toEqual(s2);
      expect(await f.bots.getById(tenantA, bot.id)).toMatchObject({ generation: 2, lastSeenAt: activity.at, certExpiresAt: s2.expiresAt });

      // Generation 2 again, with another key: refused, and the recorded step stays.
      expect(await f.store.advance(tenantA, lineageStep(instance.id, 2), { ...activity, at: t(110) })).toBe(false);
      expect(await f.store.step(tenantA, instance.id, 2)).toEqual(s2);
      // A renewal without a heartbeat keeps the last one.
      const s3 = lineageStep(instance.id, 3);
      expect(await f.store.advance(tenantA, s3, { at: t(120), address: '198.51.100.8', heartbeat: null })).toBe(true);
      expect(await f.store.get(tenantA, instance.id)).toMatchObject({ generation: 3, lastRenewalAt: t(120), lastAddress: '198.51.100.8', heartbeat });
    });

    test('a locked instance does not advance', async () => {
      const tenantId = await f.newTenant();
      const { instance } = await joined(tenantId);
      await f.store.lockAndRevoke(tenantId, instance.id, lock('incident 7', t(50)), [], t(50));
      expect(await f.store.advance(tenantId, lineageStep(instance.id, 2), { at: t(60), address: '', heartbeat: null })).toBe(false);
      expect(await f.store.get(tenantId, instance.id)).toMatchObject({ generation: 1, lock: lock('incident 7', t(50)) });
      expect(await f.store.step(tenantId, instance.id, 2)).toBeNull();
    });

    test('20 concurrent advances of one generation from two replicas: exactly one wins, and its step is recorded', async () => {
      const tenantId = await f.newTenant();
      const { instance, first } = await joined(tenantId);
      const steps = Array.from({ length: 20 }, () => lineageStep(instance.id, 2));
      const won = await Promise.all(steps.map((s, i) => (i % 2 ? f.peer : f.store).advance(tenantId, s, { at: t(100), address: `203.0.113.${i}`, heartbeat: null })));
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = steps[won.indexOf(true)] as LineageStep;
      expect(await f.store.lineage(tenantId, instance.id)).toEqual([first, winner]);
      expect(await f.store.get(tenantId, instance.id)).toMatchObject({ generation: 2, lastAddress: `203.0.113.${won.indexOf(true)}` });
    });

    test('deleteExpired prunes steps whose certificate and predecessor expired before the cutoff; never the last step, never one a valid certificate needs', async () => {
      // Dates in 2020, before any other test's, so the shared database's other rows stay.
      const old = (s: number) => new Date(Date.UTC(2020, 0, 1, 0, 0, s));
      const cut = old(1000);
      const tenantId = await f.newTenant();
      const bot = newBot(tenantId);
      await f.bots.create(bot);
      // A: generations 1-5; 1-3 expired before the cutoff; 4 expires 1 ms after it (just
      // inside: it and its successor stay); 5 is the last.
      const a = randomUUID();
      const exp = [old(10), old(20), new Date(cut.getTime() - 1), new Date(cut.getTime() + 1), old(5000)];
      const ia = newInstance(bot, lineageStep(a, 1, { issuedAt: old(0), expiresAt: exp[0] as Date }), { id: a });
      await f.createInstance(ia.instance, ia.first);
      for (let g = 2; g <= 5; g++) expect(await f.store.advance(tenantId, lineageStep(a, g, { issuedAt: old(g), expiresAt: exp[g - 1] as Date }), { at: old(g), address: '', heartbeat: null })).toBe(true);
      // B: a lineage that ended long ago; its last step stays all the same.
      const b = randomUUID();
      const ib = newInstance(bot, lineageStep(b, 1, { issuedAt: old(0), expiresAt: old(10) }), { id: b });
      await f.createInstance(ib.instance, ib.first);
      expect(await f.store.advance(tenantId, lineageStep(b, 2, { issuedAt: old(5), expiresAt: old(20) }), { at: old(5), address: '', heartbeat: null })).toBe(true);

      let n = 0;
      for (let i = 0; i < 10; i++) {
        const got = await f.store.deleteExpired(cut, 2);
        expect(got).toBeLessThanOrEqual(2);
        n += got;
        if (got === 0) break;
      }
      expect(n).toBe(4); // A's 1, 2, 3 and B's 1
      expect((await f.store.lineage(tenantId, a)).map((s) => s.generation)).toEqual([4, 5]);
      expect((await f.store.lineage(tenantId, b)).map((s) => s.generation)).toEqual([2]);
      expect(await f.store.get(tenantId, b)).toMatchObject({ generation: 2 });
    });

    test('the lineage is oldest first', async () => {
      const tenantId = await f.newTenant();
      const { instance, first } = await joined(tenantId);
      const later = [2, 3, 4, 5].map((g) => lineageStep(instance.id, g));
      for (const s of later) expect(await f.store.advance(tenantId, s, { at: s.issuedAt, address: s.address, heartbeat: null })).toBe(true);
      expect(await f.store.lineage(tenantId, instance.id)).toEqual([first, ...later]);
      expect((await f.store.step(tenantId, instance.id, 4))?.serial).toBe(later[2]?.serial);
    });

    test('list: newest first (then by id), paged after a cursor, of one bot or the tenant, never of another tenant', async () => {
      const [tenantA, tenantB] = [await f.newTenant(), await f.newTenant()];
      const x = newBot(tenantA);
      const y = newBot(tenantA);
      await f.bots.create(x);
      await f.bots.create(y);
      const made: BotInstance[] = [];
      for (const [bot, s] of [[x, 10], [x, 30], [y, 20], [x, 40], [y, 40], [y, 40], [x, 5]] as const) made.push((await joined(tenantA, { createdAt: t(s) }, bot)).instance);
      const other = await joined(tenantB, { createdAt: t(50) });
      const newestFirst = (a: BotInstance, b: BotInstance) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1);
      const all = [...made].sort(newestFirst);

      expect(await f.store.list(tenantA, { limit: 100 })).toEqual(all);
      expect(await f.store.list(tenantA, { botId: x.id, limit: 100 })).toEqual(all.filter((i) => i.botId === x.id));
      expect(await f.store.list(tenantB, { limit: 100 })).toEqual([other.instance]);
      expect(await f.store.list(tenantA, { botId: other.bot.id, limit: 100 })).toEqual([]);

      const pages: string[][] = [];
      let after: { createdAt: Date; id: string } | undefined;
      for (;;) {
        const page = await f.store.list(tenantA, { limit: 3, ...(after ? { after } : {}) });
        if (page.length === 0) break;
        pages.push(page.map((i) => i.id));
        const last = page[page.length - 1] as BotInstance;
        after = { createdAt: last.createdAt, id: last.id };
      }
      expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
      expect(pages.flat()).toEqual(all.map((i) => i.id));
      const ofY = all.filter((i) => i.botId === y.id);
      const firstOfY = ofY[0] as BotInstance;
      expect(await f.store.list(tenantA, { botId: y.id, limit: 1, after: { createdAt: firstOfY.createdAt, id: firstOfY.id } })).toEqual(ofY.slice(1, 2));
    });

    test('lockAndRevoke locks the instance and revokes exactly its unexpired certificates and the extra ones', async () => {
      const [tenantId, tenantB] = [await f.newTenant(), await f.newTenant()];
      const { bot, instance, first } = await joined(tenantId);
      // At t(250) generation 1 (until t(3610)) and 3 (until t(300)) are live, 2 (until t(200)) is not.
      const s2 = lineageStep(instance.id, 2, { expiresAt: t(200) });
      const s3 = lineageStep(instance.id, 3, { expiresAt: t(300) });
      expect(await f.store.advance(tenantId, s2, { at: t(20), address: '', heartbeat: null })).toBe(true);
      expect(await f.store.advance(tenantId, s3, { at: t(30), address: '', heartbeat: null })).toBe(true);
      const sibling = await joined(tenantId, {}, bot); // another machine of the same bot: untouched

      const at = t(250);
      const extra = [
        { serial: 'undelivered-live', expiresAt: t(400) },
        { serial: 'undelivered-dead', expiresAt: at }, // expired at `at`
      ];
      const l = lock('generation 2 was presented twice with different keys', at);
      expect(await f.store.lockAndRevoke(tenantB, instance.id, l, extra, at)).toEqual([]);
      expect(await f.store.lockAndRevoke(tenantId, randomUUID(), l, extra, at)).toEqual([]);
      expect((await f.store.get(tenantId, instance.id))?.lock).toBeNull();
      expect(await f.revocations(tenantId)).toEqual([]);
      expect(await f.revocations(tenantB)).toEqual([]);

      const revoked = await f.store.lockAndRevoke(tenantId, instance.id, l, extra, at);
      const want = [
        { serial: first.serial, expiresAt: first.expiresAt },
        { serial: s3.serial, expiresAt: s3.expiresAt },
        { serial: 'undelivered-live', expiresAt: t(400) },
      ].sort((a, b) => (a.serial < b.serial ? -1 : 1));
      expect([...revoked].sort()).toEqual(want.map((w) => w.serial));
      expect((await f.revocations(tenantId)).sort((a, b) => ((a.serial ?? '') < (b.serial ?? '') ? -1 : 1))).toEqual(want.map((w) => ({ ...w, subjectId: null, reason: l.reason, createdAt: at })));
      expect(await f.store.get(tenantId, instance.id)).toEqual({ ...instance, generation: 3, lastRenewalAt: t(30), lastAddress: '', certExpiresAt: s3.expiresAt, lock: l });
      expect((await f.store.get(tenantId, sibling.instance.id))?.lock).toBeNull();
      expect(await f.revocations(tenantB)).toEqual([]);
    });
  });
}
