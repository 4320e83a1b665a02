import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyedHash } from '@mezite/identity';
import { createMeziteClient, internalChannelCredentials } from '@mezite/platform';
import { tokenv1 } from '@mezite/proto';
import { Redis } from 'ioredis';
import { ChaosEnv, load, outcome, report, tally, timed, type Sample } from '../harness/chaos';

/** How long a positive verification is shared (token-service's ApiTokenVerifier, sharedTtlMs): the stated bound. */
const SHARED_TTL_MS = 60_000;

/**
 * One token-service replica cut off from Redis while the other still reaches it
 * (issue 14; docs/DECISIONS.md "Redis partition: the revocation bound"). Calls go to
 * each token-service replica directly (as the auth-server does, with its client
 * certificate), so the test chooses which replica rotates, deletes and verifies.
 */
describe('a token-service replica cut off from Redis', () => {
  let env: ChaosEnv;
  let clients: Array<{ api: ReturnType<typeof createMeziteClient<typeof tokenv1.ApiTokenServiceDefinition>>['client']; close(): void }>;
  beforeAll(async () => {
    env = await timed('redis partition: stack with 2 replicas up', () => ChaosEnv.start({ partitionable: true, env: { MEZITE_AUTH_FAILURE_LIMIT: '100000' } }));
    const pki = join(env.stack.dataDir, 'pki');
    const credentials = internalChannelCredentials({ caCertPem: readFileSync(join(pki, 'ca.crt'), 'utf8'), certPem: readFileSync(join(pki, 'auth-server.crt'), 'utf8'), keyPem: readFileSync(join(pki, 'auth-server.key'), 'utf8') });
    const services = env.stack.status().services;
    clients = [services['token-service'].addr, services['token-service#2']?.addr ?? ''].map((address) => {
      const c = createMeziteClient(tokenv1.ApiTokenServiceDefinition, { address, credentials, peerName: 'token-service', channelOptions: { 'grpc.ssl_target_name_override': 'token-service' } });
      return { api: c.client, close: c.close };
    });
  }, 180_000);
  afterAll(async () => {
    for (const c of clients ?? []) c.close();
    await env?.destroy();
  });

  const connected = () => clients[0]!.api;
  const cutOff = () => clients[1]!.api;
  /** A token of svc-deployer, first verified (read from the database, shared through Redis) by `via`. */
  const issue = async (via = connected) => {
    const t = await env.replica(0).tokens.issueServiceToken({ clientId: 'svc-deployer', clientSecret: 'svc-deployer-demo-secret', grantType: 'client_credentials' });
    const rec = await via().verifyApiToken({ plaintext: t.accessToken });
    return { plaintext: t.accessToken, ref: { tenantId: rec.tenantId, identityId: rec.identityId, id: rec.id } };
  };
  /** Verifications of each token on `replica`, two workers per token, every ~100 ms until `until()`; bounded in count. */
  const sample = (replica: () => ReturnType<typeof connected>, tokens: Record<string, string>, until: () => boolean, max = 1000): Promise<Sample[]> => {
    const names = Object.keys(tokens);
    return load(names.length * 2, max, (i) => {
      const what = names[i % names.length] as string;
      return { what, p: new Promise((r) => setTimeout(r, 100)).then(() => replica().verifyApiToken({ plaintext: tokens[what] as string })) };
    }, until);
  };
  const oks = (samples: Sample[], what: string) => samples.filter((s) => s.what === what && s.result === 'ok');

  test('the cut-off replica refuses what the other rotated or deleted as soon as it returned (it asks PostgreSQL)', async () => {
    const rotated = await issue();
    const deleted = await issue();
    for (let i = 0; i < 3; i++) for (const t of [rotated, deleted]) for (const r of [connected, cutOff]) await r().verifyApiToken({ plaintext: t.plaintext });

    await env.partition!.partition();
    try {
      const rot = await connected().rotateApiToken({ ...rotated.ref, overlapSeconds: 1 });
      await connected().deleteApiToken(deleted.ref);
      const deletedAt = Date.now();
      const deadline = rot.rotationDeadline!.getTime();
      const stopAt = Math.max(deadline, deletedAt) + 3000;
      const samples = await sample(cutOff, { rotated: rotated.plaintext, deleted: deleted.plaintext }, () => Date.now() > stopAt, 100);
      report(`partition, change on the connected replica: cut-off replica answered ${JSON.stringify(tally(samples.map((s) => `${s.what} ${s.result}`)))}`);
      expect(oks(samples, 'deleted').filter((s) => s.sent > deletedAt)).toEqual([]);
      expect(oks(samples, 'rotated').filter((s) => s.sent > deadline)).toEqual([]);
      expect(samples.filter((s) => s.sent > deadline + 500).length).toBeGreaterThan(10);
    } finally {
      await env.partition!.heal();
    }
  }, 60_000);

  test(`a rotation or deletion made on the cut-off replica: the other honours the old token at most ${SHARED_TTL_MS / 1000} s after the database read it cached; a retried deletion ends it at once`, async () => {
    // The last database read before the change is the cut-off replica's, shared through
    // Redis for 60 s: the bound is that record's end, read from Redis. (After the first
    // test the cut-off replica may still be reconnecting: then it reads again, bounded.)
    const tokens = [await issue(cutOff), await issue(cutOff), await issue(cutOff)];
    const [rotated, deleted, retried] = tokens as [Awaited<ReturnType<typeof issue>>, Awaited<ReturnType<typeof issue>>, Awaited<ReturnType<typeof issue>>];
    const redis = new Redis(env.redis.url, { maxRetriesPerRequest: 1 });
    const pepper = Buffer.from(env.stack.secrets().token_pepper, 'base64');
    const recordKey = (plaintext: string) => `token:api-token:record:${keyedHash(pepper, plaintext).toString('hex')}`;
    let bound: number;
    let lastRead = 0;
    try {
      for (let i = 0; i < 50 && (await redis.exists(...tokens.map((t) => recordKey(t.plaintext)))) < 3; i++) {
        await new Promise((r) => setTimeout(r, 200));
        for (const t of tokens) await cutOff().verifyApiToken({ plaintext: t.plaintext });
      }
      lastRead = Date.now();
      const ends = await Promise.all(tokens.map(async (t) => Date.now() + (await redis.pttl(recordKey(t.plaintext)))));
      bound = Math.max(...ends);
      expect(bound).toBeLessThanOrEqual(lastRead + SHARED_TTL_MS);
    } finally {
      redis.disconnect();
    }
    // The connected replica copies it into its process 5 s later, so its 10 s copies do
    // not line up with the shared record's end (before issue 14 the last copy outlived it by 5 s).
    await new Promise((r) => setTimeout(r, 5000));
    for (const t of [rotated, deleted, retried]) await connected().verifyApiToken({ plaintext: t.plaintext });

    await env.partition!.partition();
    let rot: tokenv1.RotateApiTokenResponse;
    try {
      rot = await cutOff().rotateApiToken({ ...rotated.ref, overlapSeconds: 1 });
      expect(await outcome(cutOff().deleteApiToken(deleted.ref))).toBe('Unavailable');
      expect(await outcome(cutOff().deleteApiToken(retried.ref))).toBe('Unavailable');
    } finally {
      await env.partition!.heal();
    }
    const deadline = rot.rotationDeadline!.getTime();
    // The remedy the Unavailable asks for: the deletion, retried where Redis is reachable.
    await connected().deleteApiToken(retried.ref);
    const retriedAt = Date.now();

    const stopAt = bound + 5000;
    const samples = await sample(connected, { rotated: rotated.plaintext, deleted: deleted.plaintext, retried: retried.plaintext }, () => Date.now() > stopAt, 1000);
    const window = (what: string) => oks(samples, what).map((s) => s.sent);
    report(
      `partition, change on the cut-off replica: the connected one honoured the rotated token ${window('rotated').filter((t) => t > deadline).length} times after its deadline ` +
        `(last ${((Math.max(deadline, ...window('rotated')) - deadline) / 1000).toFixed(1)} s after it), the deleted one ${window('deleted').length} times ` +
        `(last ${((Math.max(lastRead, ...window('deleted')) - (bound - SHARED_TTL_MS)) / 1000).toFixed(1)} s after the database read it cached); bound ${SHARED_TTL_MS / 1000} s`,
    );
    // The bound: nothing is honoured once the shared TTL has passed since the database read.
    expect(window('rotated').filter((t) => t > Math.max(bound, deadline))).toEqual([]);
    expect(window('deleted').filter((t) => t > bound)).toEqual([]);
    expect(window('retried').filter((t) => t > retriedAt)).toEqual([]);
    expect(samples.filter((s) => s.sent > bound + 1000).length).toBeGreaterThan(10);
  }, 150_000);
});
