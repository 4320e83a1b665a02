import { randomBytes, randomUUID } from 'node:crypto';
import { isMeziteError } from '@mezite/identity';
import type { BotStore } from '../domain/bot';
import type { BotInstanceStore } from '../domain/bot-instance';
import type { JoinToken, JoinTokenStore } from '../domain/join-token';
import type { Node, NodeStore } from '../domain/node';
import { lineageStep, newBot, newInstance } from './bot-instance-store.contract';

/** What a contract run needs of the store's world. */
export interface JoinTokenStoreFixture {
  store: JoinTokenStore;
  /** A second view of the same data (another replica; the store itself in memory). */
  peer: JoinTokenStore;
  /** Where a redemption's writes land, read back through their own stores. */
  bots: BotStore;
  instances: BotInstanceStore;
  nodes: NodeStore;
  /** A tenant of its own for one test (created where the schema needs it). */
  newTenant(): Promise<string>;
  close(): Promise<void>;
}

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The one suite every JoinTokenStore passes (STYLE.md §4). */
export function joinTokenStoreContract(name: string, make: () => Promise<JoinTokenStoreFixture>): void {
  describe(`JoinTokenStore contract: ${name}`, () => {
    let f: JoinTokenStoreFixture;
    beforeAll(async () => {
      f = await make();
    });
    afterAll(async () => f?.close());

    const token = (tenantId: string, subjectId: string, over: Partial<JoinToken> = {}): JoinToken => ({
      id: randomUUID(),
      tenantId,
      subjectKind: 'bot',
      subjectId,
      tokenHash: randomBytes(32),
      createdAt: t(0),
      expiresAt: t(3600),
      redeemedAt: null,
      revokedAt: null,
      instanceId: null,
      ...over,
    });
    /** A stored token for a new bot of a new tenant. */
    const botToken = async (over: Partial<JoinToken> = {}) => {
      const tenantId = await f.newTenant();
      const bot = newBot(tenantId);
      await f.bots.create(bot);
      const tok = token(tenantId, bot.id, over);
      await f.store.create(tok);
      return { bot, tok };
    };
    const newNode = async (tenantId: string): Promise<Node> => {
      const n: Node = { id: randomUUID(), tenantId, name: `web-${randomBytes(3).toString('hex')}`, addr: '10.0.0.7:22', labels: { env: 'staging' }, hostPublicKey: null, hostKeyFingerprint: null, joinedAt: null, lastSeenAt: null, certExpiresAt: null, createdAt: t(0) };
      await f.nodes.create(n);
      return n;
    };
    const instanceFor = (bot: ReturnType<typeof newBot>, tokenId: string) => {
      const id = randomUUID();
      return newInstance(bot, lineageStep(id, 1, { issuedAt: t(100), expiresAt: t(3700) }), { id, joinTokenId: tokenId, createdAt: t(100) });
    };

    test('findByHashes finds a token by any of several hashes (one per pepper) in one read', async () => {
      const { tok } = await botToken();
      expect(await f.peer.findByHashes([randomBytes(32), Buffer.from(tok.tokenHash)])).toEqual(tok);
      expect(await f.store.findByHashes([randomBytes(32), randomBytes(32)])).toBeNull();
      expect(await f.store.findByHashes([])).toBeNull();
    });

    test('create and findByHash; a taken id or hash is AlreadyExists', async () => {
      const { tok } = await botToken();
      expect(await f.store.findByHash(tok.tokenHash)).toEqual(tok);
      expect(await f.peer.findByHash(Buffer.from(tok.tokenHash))).toEqual(tok);
      expect(await f.store.findByHash(randomBytes(32))).toBeNull();
      const sameHash = await f.store.create({ ...tok, id: randomUUID() }).catch((e: unknown) => e);
      expect(isMeziteError(sameHash, 'AlreadyExists')).toBe(true);
      const sameId = await f.store.create({ ...tok, tokenHash: randomBytes(32) }).catch((e: unknown) => e);
      expect(isMeziteError(sameId, 'AlreadyExists')).toBe(true);
    });

    test('redeem runs the work once with the token and answers its result; the token is then spent', async () => {
      const { tok } = await botToken();
      const work = jest.fn(async (got: JoinToken) => {
        const { redeemedAt: _when, ...rest } = got; // before or after the redemption's own write: either
        return rest;
      });
      const { redeemedAt: _never, ...unspent } = tok;
      expect(await f.store.redeem(tok.tokenHash, t(10), work)).toEqual(unspent);
      expect(await f.store.findByHash(tok.tokenHash)).toEqual({ ...tok, redeemedAt: t(10), instanceId: null });
      expect(await f.store.redeem(tok.tokenHash, t(11), work)).toBeNull();
      expect(await f.peer.redeem(tok.tokenHash, t(11), work)).toBeNull();
      expect(work).toHaveBeenCalledTimes(1);
    });

    test('20 concurrent redemptions of one token from two replicas: the work runs once and exactly one gets its result', async () => {
      const { tok } = await botToken();
      let runs = 0;
      const work = async (got: JoinToken) => {
        runs++;
        await sleep(20); // signing a certificate takes a while; the others must wait, not slip in
        return got.id;
      };
      const got = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? f.peer : f.store).redeem(tok.tokenHash, t(10), work)));
      expect(runs).toBe(1);
      expect(got.filter((g) => g !== null)).toEqual([tok.id]);
      expect((await f.store.findByHash(tok.tokenHash))?.redeemedAt).toEqual(t(10));
    });

    test('when the work throws, its error comes back, nothing it wrote stays and the token can still be redeemed', async () => {
      const { bot, tok } = await botToken();
      const { instance, first } = instanceFor(bot, tok.id);
      const boom = new Error('ssh-ca down');
      const err = await f.store
        .redeem(tok.tokenHash, t(100), async (_t, writes) => {
          await writes.createInstance(instance, first);
          throw boom;
        })
        .catch((e: unknown) => e);
      expect(err).toBe(boom);
      expect(await f.store.findByHash(tok.tokenHash)).toEqual(tok);
      expect(await f.instances.get(bot.tenantId, instance.id)).toBeNull();
      expect(await f.instances.lineage(bot.tenantId, instance.id)).toEqual([]);
      expect(await f.bots.getById(bot.tenantId, bot.id)).toMatchObject({ generation: 0, lastSeenAt: null });

      // A node's enrollment is rolled back the same way.
      const node = await newNode(bot.tenantId);
      const nodeTok = token(bot.tenantId, node.id, { subjectKind: 'node' });
      await f.store.create(nodeTok);
      const err2 = await f.store
        .redeem(nodeTok.tokenHash, t(100), async (_t, writes) => {
          await writes.enrollNode(node.tenantId, node.id, { hostPublicKey: 'ssh-ed25519 AAAA', hostKeyFingerprint: `SHA256:${randomUUID()}`, at: t(100), certExpiresAt: t(200) });
          throw boom;
        })
        .catch((e: unknown) => e);
      expect(err2).toBe(boom);
      expect(await f.nodes.getById(node.tenantId, node.id)).toEqual(node);
      expect((await f.store.findByHash(nodeTok.tokenHash))?.redeemedAt).toBeNull();

      expect(await f.store.redeem(tok.tokenHash, t(101), async () => 'joined')).toBe('joined');
    });

    test('an expired, revoked, redeemed or unknown token is not redeemed, and the work does not run', async () => {
      const work = jest.fn(async () => 'joined');
      const expired = await botToken({ expiresAt: t(60) });
      expect(await f.store.redeem(expired.tok.tokenHash, t(60), work)).toBeNull();
      expect(await f.store.redeem(expired.tok.tokenHash, t(61), work)).toBeNull();
      const revoked = await botToken();
      expect(await f.store.revokeForSubject(revoked.bot.tenantId, revoked.bot.id, t(5))).toBe(1);
      expect(await f.store.redeem(revoked.tok.tokenHash, t(10), work)).toBeNull();
      const redeemed = await botToken({ redeemedAt: t(5) });
      expect(await f.store.redeem(redeemed.tok.tokenHash, t(10), work)).toBeNull();
      expect(await f.store.redeem(randomBytes(32), t(10), work)).toBeNull();
      expect(work).not.toHaveBeenCalled();
      expect(await f.store.findByHash(expired.tok.tokenHash)).toEqual(expired.tok);
      expect(await f.store.findByHash(revoked.tok.tokenHash)).toEqual({ ...revoked.tok, revokedAt: t(5) });
      // Just before it expires it still works.
      const late = await botToken({ expiresAt: t(60) });
      expect(await f.store.redeem(late.tok.tokenHash, t(59), work)).toBe('joined');
    });

    test('an instance created inside the redemption is there after it, and the token names it', async () => {
      const { bot, tok } = await botToken();
      const { instance, first } = instanceFor(bot, tok.id);
      const got = await f.store.redeem(tok.tokenHash, t(100), async (_t, writes) => {
        await writes.createInstance(instance, first);
        return instance.id;
      });
      expect(got).toBe(instance.id);
      expect(await f.store.findByHash(tok.tokenHash)).toEqual({ ...tok, redeemedAt: t(100), instanceId: instance.id });
      expect(await f.instances.get(bot.tenantId, instance.id)).toEqual(instance);
      expect(await f.instances.lineage(bot.tenantId, instance.id)).toEqual([first]);
      expect(await f.bots.getById(bot.tenantId, bot.id)).toMatchObject({ generation: 1, lastSeenAt: t(100), certExpiresAt: first.expiresAt });
    });

    test("a node's enrollment inside the redemption is there after it", async () => {
      const tenantId = await f.newTenant();
      const node = await newNode(tenantId);
      const tok = token(tenantId, node.id, { subjectKind: 'node' });
      await f.store.create(tok);
      const j = { hostPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG', hostKeyFingerprint: `SHA256:${randomUUID()}`, at: t(100), certExpiresAt: t(86_500) };
      expect(await f.store.redeem(tok.tokenHash, t(100), async (_t, writes) => writes.enrollNode(tenantId, node.id, j))).toBeUndefined();
      expect(await f.nodes.getById(tenantId, node.id)).toEqual({ ...node, hostPublicKey: j.hostPublicKey, hostKeyFingerprint: j.hostKeyFingerprint, joinedAt: j.at, lastSeenAt: j.at, certExpiresAt: j.certExpiresAt });
      expect(await f.store.findByHash(tok.tokenHash)).toEqual({ ...tok, redeemedAt: t(100), instanceId: null });

      // Another node with the same host key: AlreadyExists, and its token is not spent.
      const twin = await newNode(tenantId);
      const twinTok = token(tenantId, twin.id, { subjectKind: 'node' });
      await f.store.create(twinTok);
      const err = await f.store.redeem(twinTok.tokenHash, t(200), async (_t, writes) => writes.enrollNode(tenantId, twin.id, { ...j, at: t(200) })).catch((e: unknown) => e);
      expect(isMeziteError(err, 'AlreadyExists')).toBe(true);
      expect(await f.nodes.getById(tenantId, twin.id)).toEqual(twin);
      expect(await f.store.findByHash(twinTok.tokenHash)).toEqual(twinTok);
    });

    test('deleteExpired removes tokens redeemed, revoked or expired before the cutoff, at most `limit` a call; the rest stay', async () => {
      // Dates in 2020, before any other test's, so the shared database's other rows stay.
      const old = (s: number) => new Date(Date.UTC(2020, 0, 1, 0, 0, s));
      const cut = old(1000);
      const before = new Date(cut.getTime() - 1);
      const after = new Date(cut.getTime() + 1);
      const gone = [
        (await botToken({ createdAt: old(0), expiresAt: before })).tok,
        (await botToken({ createdAt: old(0), expiresAt: old(5000), redeemedAt: before })).tok,
        (await botToken({ createdAt: old(0), expiresAt: old(5000), revokedAt: before })).tok,
      ];
      const kept = [
        (await botToken({ createdAt: old(0), expiresAt: after })).tok,
        (await botToken({ createdAt: old(0), expiresAt: old(5000), redeemedAt: after })).tok,
        (await botToken({ createdAt: old(0), expiresAt: old(5000), revokedAt: after })).tok,
      ];
      expect(await f.store.deleteExpired(cut, 2)).toBe(2);
      expect(await f.store.deleteExpired(cut, 2)).toBe(1);
      expect(await f.store.deleteExpired(cut, 2)).toBe(0);
      for (const t of gone) expect(await f.store.findByHash(t.tokenHash)).toBeNull();
      for (const t of kept) expect(await f.store.findByHash(t.tokenHash)).toEqual(t);
    });

    test("revokeForSubject revokes the subject's unspent tokens in its tenant only, and counts them", async () => {
      const { bot, tok } = await botToken();
      const second = token(bot.tenantId, bot.id);
      const spent = token(bot.tenantId, bot.id, { redeemedAt: t(1) });
      const earlier = token(bot.tenantId, bot.id, { revokedAt: t(1) });
      const otherSubject = token(bot.tenantId, randomUUID());
      const otherTenant = token(await f.newTenant(), bot.id);
      for (const x of [second, spent, earlier, otherSubject, otherTenant]) await f.store.create(x);

      expect(await f.store.revokeForSubject(bot.tenantId, bot.id, t(10))).toBe(2);
      expect(await f.store.revokeForSubject(bot.tenantId, bot.id, t(11))).toBe(0);
      expect((await f.store.findByHash(tok.tokenHash))?.revokedAt).toEqual(t(10));
      expect((await f.store.findByHash(second.tokenHash))?.revokedAt).toEqual(t(10));
      expect(await f.store.findByHash(spent.tokenHash)).toEqual(spent);
      expect(await f.store.findByHash(earlier.tokenHash)).toEqual(earlier);
      expect(await f.store.findByHash(otherSubject.tokenHash)).toEqual(otherSubject);
      expect(await f.store.findByHash(otherTenant.tokenHash)).toEqual(otherTenant);
    });
  });
}
