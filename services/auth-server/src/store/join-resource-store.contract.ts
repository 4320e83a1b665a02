import { randomUUID } from 'node:crypto';
import { isMeziteError } from '@mezite/identity';
import type { BotStore } from '../domain/bot';
import type { BotInstanceStore } from '../domain/bot-instance';
import type { IdTokenUse, JoinResource, JoinResourceStore } from '../domain/join-resource';
import { lineageStep, newBot, newInstance } from './bot-instance-store.contract';

/** What a contract run needs. */
export interface JoinResourceStoreFixture {
  store: JoinResourceStore;
  /** Another replica on the same data (the store itself in memory). */
  peer: JoinResourceStore;
  bots: BotStore;
  instances: BotInstanceStore;
  newTenant(): Promise<string>;
  close(): Promise<void>;
}

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

/** The one suite every JoinResourceStore passes (STYLE.md §4). */
export function joinResourceStoreContract(name: string, make: () => Promise<JoinResourceStoreFixture>): void {
  describe(`JoinResourceStore contract: ${name}`, () => {
    let f: JoinResourceStoreFixture;
    beforeAll(async () => {
      f = await make();
    });
    afterAll(async () => f?.close());

    const fresh = async () => {
      const tenantId = await f.newTenant();
      const bot = newBot(tenantId);
      await f.bots.create(bot);
      const r: JoinResource = { id: randomUUID(), tenantId, name: 'gha-deploy', botId: bot.id, botName: bot.name, joinMethod: 'github', allow: [{ repository: 'octo-org/octo-repo' }], audience: '', options: { issuer: 'https://token.actions.githubusercontent.com' }, expiresAt: null, createdAt: t(0), updatedAt: t(0), revision: 1 };
      await f.store.create(r);
      return { tenantId, bot, r };
    };
    const use = (r: JoinResource, jti = randomUUID()): IdTokenUse => ({ tenantId: r.tenantId, resourceId: r.id, issuer: 'https://token.actions.githubusercontent.com', jti, expiresAt: t(300), at: t(0) });

    test('create, get, list, replace (revision + 1), delete; a second create is AlreadyExists', async () => {
      const { tenantId, r } = await fresh();
      expect(await f.peer.get(tenantId, 'gha-deploy')).toEqual(r);
      expect(isMeziteError(await f.store.create({ ...r, id: randomUUID() }).catch((e: unknown) => e), 'AlreadyExists')).toBe(true);
      const next = await f.store.replace({ ...r, allow: [{ repository: 'octo-org/other' }], updatedAt: t(5) });
      expect(next).toMatchObject({ id: r.id, revision: 2, allow: [{ repository: 'octo-org/other' }], createdAt: t(0) });
      expect((await f.store.list(tenantId, { limit: 10 })).map((x) => x.name)).toEqual(['gha-deploy']);
      expect(await f.store.list(await f.newTenant(), { limit: 10 })).toEqual([]);
      expect(await f.store.delete(tenantId, 'gha-deploy')).toBe(true);
      expect(await f.store.delete(tenantId, 'gha-deploy')).toBe(false);
      expect(isMeziteError(await f.store.replace(r).catch((e: unknown) => e), 'NotFound')).toBe(true);
    });

    test('an ID token is admitted once, across replicas; its instance commits with it', async () => {
      const { tenantId, bot, r } = await fresh();
      const u = use(r);
      const made = newInstance(bot, lineageStep(randomUUID(), 1, { issuedAt: t(0) }) as never);
      const first = await f.store.admit(u, async (create) => {
        await create(made.instance, made.first);
        return 'ok';
      });
      expect(first).toBe('ok');
      expect(await f.instances.get(tenantId, made.instance.id)).not.toBeNull();
      let ran = false;
      expect(await f.peer.admit(u, async () => (ran = true))).toBeNull();
      expect(ran).toBe(false);
      expect(await f.peer.findUse(u.issuer, u.jti)).toMatchObject({ tenantId, resourceId: r.id, instanceId: made.instance.id });
      expect(await f.peer.findUse(u.issuer, 'no-such-jti')).toBeNull();
    });

    test('20 concurrent admissions of one ID token on two replicas: exactly one runs', async () => {
      const { r } = await fresh();
      const u = use(r);
      let ran = 0;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? f.peer : f.store).admit(u, async () => {
            ran++;
            await new Promise((res) => setTimeout(res, 5));
            return i;
          }),
        ),
      );
      expect(results.filter((x) => x !== null)).toHaveLength(1);
      expect(ran).toBe(1);
    });

    test('20 concurrent admissions rebinding one resource revision on two replicas: exactly one commits its options', async () => {
      const { tenantId, r } = await fresh();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? f.peer : f.store).admit({ ...use(r), rebind: { revision: r.revision, options: { n: String(i) } } }, async () => {
            await new Promise((res) => setTimeout(res, 5));
            return i;
          }),
        ),
      );
      const won = results.filter((x) => x !== null);
      expect(won).toHaveLength(1);
      const now = await f.peer.get(tenantId, r.name);
      expect(now).toMatchObject({ revision: r.revision + 1, options: { n: String(won[0]) } });
      // A rebind against the old revision no longer commits, and leaves its use unrecorded.
      const late = use(r);
      expect(await f.store.admit({ ...late, rebind: { revision: r.revision, options: {} } }, async () => 'late')).toBeNull();
      expect(await f.store.findUse(late.issuer, late.jti)).toBeNull();
    });

    test('a failed join leaves the ID token unused and no instance', async () => {
      const { tenantId, bot, r } = await fresh();
      const u = use(r);
      const made = newInstance(bot, lineageStep(randomUUID(), 1, { issuedAt: t(0) }) as never);
      await expect(
        f.store.admit(u, async (create) => {
          await create(made.instance, made.first);
          throw new Error('ssh-ca down');
        }),
      ).rejects.toThrow('ssh-ca down');
      expect(await f.instances.get(tenantId, made.instance.id)).toBeNull();
      expect(await f.store.admit(u, async () => 'again')).toBe('again');
    });

    test('uses are deleted once their token expired', async () => {
      const { r } = await fresh();
      const u = use(r);
      await f.store.admit(u, async () => 1);
      expect(await f.store.deleteExpired(t(301), 1000)).toBeGreaterThanOrEqual(1);
      expect(await f.store.admit(u, async () => 2)).toBe(2);
    });
  });
}
