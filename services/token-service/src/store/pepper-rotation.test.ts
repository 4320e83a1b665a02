import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { FakeClock, keyedHash, keyId, keyRing, type KeyRing } from '@mezite/identity';
import { createTestDatabase, MemoryCache, nullLogger, runMigrations, type Cache } from '@mezite/platform';
import { ApiTokenCache } from '../domain/api-token-cache';
import { ApiTokenManager } from '../domain/api-token-manager';
import type { ApiTokenStore } from '../domain/api-token-store';
import { ApiTokenVerifier } from '../domain/api-token-verifier';
import { ClientSecretManager } from '../domain/client-secret-manager';
import type { ClientSecretStore } from '../domain/client-secret-store';
import { LastUseRecorder } from '../domain/last-use-recorder';
import { stampUnversionedRows } from '../domain/pepper-stamp';
import { MemoryApiTokenStore } from './memory-api-token-store';
import { MemoryClientSecretStore } from './memory-client-secret-store';
import { PrismaApiTokenStore } from './prisma-api-token-store';
import { PrismaClientSecretStore } from './prisma-client-secret-store';
import { createPrismaClient } from './prisma';

interface Stores {
  tokens: ApiTokenStore;
  secrets: ClientSecretStore;
  close(): Promise<void>;
}

/** The module object itself (not an import's copy of it), so a spy sees every caller's HMACs and comparisons. */
const crypto = jest.requireActual<typeof import('node:crypto')>('node:crypto');

const backends: Array<[string, () => Promise<Stores>]> = [
  ['memory', async () => ({ tokens: new MemoryApiTokenStore(), secrets: new MemoryClientSecretStore(), close: async () => {} })],
  [
    'postgres',
    async () => {
      const db = await createTestDatabase();
      await runMigrations({ databaseUrl: db.url, schema: 'token', dir: join(__dirname, '..', '..', 'migrations') });
      const prisma = createPrismaClient(db.url, 4);
      return {
        tokens: new PrismaApiTokenStore(prisma),
        secrets: new PrismaClientSecretStore(prisma),
        close: async () => {
          await prisma.$disconnect();
          await db.drop();
        },
      };
    },
  ],
];

describe.each(backends)('pepper rotation of token-service on %s', (_name, make) => {
  let s: Stores;
  const clock = new FakeClock('2026-01-01T00:00:00Z');
  let cache: Cache;
  const [a, b] = [randomBytes(32), randomBytes(32)];
  beforeAll(async () => {
    s = await make();
    cache = new MemoryCache({ clock });
  });
  afterAll(async () => s.close());

  /** token-service as it starts with these peppers (the store and the shared cache outlive it). */
  const start = (peppers: KeyRing) => {
    const tokenCache = new ApiTokenCache(cache);
    const lastUse = new LastUseRecorder({ store: s.tokens, logger: nullLogger });
    return {
      tokens: new ApiTokenManager({ store: s.tokens, cache: tokenCache, clock, peppers, logger: nullLogger }),
      verifier: new ApiTokenVerifier({ store: s.tokens, cache: tokenCache, clock, peppers, logger: nullLogger, lastUse }),
      secrets: new ClientSecretManager({ store: s.secrets, clock, peppers }),
    };
  };
  const identity = () => ({ tenantId: randomUUID(), identityId: randomUUID(), identityKind: 'service', env: 'live', ttlSeconds: 0 });

  test('an API token minted under A verifies after a restart with B (A previous), is re-hashed to B, and then needs only B', async () => {
    const underA = start(keyRing(a));
    const used = await underA.tokens.mint(identity());
    const unused = await underA.tokens.mint(identity());
    expect((await s.tokens.findById(used.token.id))?.pepperId).toBe(keyId(a));

    const rotating = start(keyRing(b, [a]));
    expect((await rotating.verifier.verify(used.plaintext)).id).toBe(used.token.id);
    const moved = await s.tokens.findById(used.token.id);
    expect(moved?.tokenHash).toEqual(keyedHash(b, used.plaintext));
    expect(moved?.pepperId).toBe(keyId(b));
    expect((await rotating.tokens.keyUsage()).find((u) => u.keyId === keyId(a))?.rows).toBe(1); // `unused` still needs A

    const afterA = start(keyRing(b));
    expect((await afterA.verifier.verify(used.plaintext)).id).toBe(used.token.id);
    // A token not used while A was previous is refused once A is dropped (docs/OPERATIONS.md says so).
    await expect(afterA.verifier.verify(unused.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
  });

  test('a token revoked under A stays refused under B, and one deleted after its re-hash is refused at once', async () => {
    const underA = start(keyRing(a));
    const revoked = await underA.tokens.mint(identity());
    const later = await underA.tokens.mint(identity());
    await underA.tokens.delete({ tenantId: revoked.token.tenantId, identityId: revoked.token.identityId, id: revoked.token.id });

    const rotating = start(keyRing(b, [a]));
    await expect(rotating.verifier.verify(revoked.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
    expect((await s.tokens.findById(revoked.token.id))?.pepperId).toBe(keyId(a)); // a refused token is not re-hashed
    await rotating.verifier.verify(later.plaintext);
    await rotating.verifier.verify(later.plaintext); // now cached under its hash under B
    await rotating.tokens.delete({ tenantId: later.token.tenantId, identityId: later.token.identityId, id: later.token.id });
    await expect(rotating.verifier.verify(later.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
  });

  test('a client secret set under A verifies with B (A previous), is re-hashed to B, and then needs only B', async () => {
    const owner = { tenantId: randomUUID(), serviceIdentityId: randomUUID() };
    const underA = start(keyRing(a));
    const clientId = `svc-${randomBytes(4).toString('hex')}`;
    const unusedId = `svc-${randomBytes(4).toString('hex')}`;
    const used = await underA.secrets.set({ ...owner, clientId });
    const unused = await underA.secrets.set({ ...owner, clientId: unusedId });
    expect(await s.secrets.find(clientId)).toMatchObject({ secretHash: keyedHash(a, used), pepperId: keyId(a) });

    const rotating = start(keyRing(b, [a]));
    expect(await rotating.secrets.verify({ clientId, secret: used })).toEqual(owner);
    expect(await s.secrets.find(clientId)).toMatchObject({ secretHash: keyedHash(b, used), pepperId: keyId(b) });
    // verifyMany re-hashes as well.
    expect(await rotating.secrets.verifyMany([{ clientId: unusedId, secret: 'wrong-secret-wrong-secret' }])).toEqual([expect.objectContaining({ code: 'Unauthenticated' })]);

    const afterA = start(keyRing(b));
    expect(await afterA.secrets.verify({ clientId, secret: used })).toEqual(owner);
    await expect(afterA.secrets.verify({ clientId: unusedId, secret: unused })).rejects.toMatchObject({ code: 'Unauthenticated' });
  });

  test('every key is tried in constant work: unknown client, wrong secret, old key and current key compute and compare alike', async () => {
    const owner = { tenantId: randomUUID(), serviceIdentityId: randomUUID() };
    const c = randomBytes(32);
    const idOld = `svc-${randomBytes(4).toString('hex')}`;
    const idNew = `svc-${randomBytes(4).toString('hex')}`;
    const old = await start(keyRing(a)).secrets.set({ ...owner, clientId: idOld });
    const ring = keyRing(c, [b, a]);
    const cur = await start(ring).secrets.set({ ...owner, clientId: idNew });
    const m = start(ring).secrets;
    const work = async (input: { clientId: string; secret: string }) => {
      const hmac = jest.spyOn(crypto, 'createHmac');
      const cmp = jest.spyOn(crypto, 'timingSafeEqual');
      try {
        await m.verify(input).catch(() => undefined);
        return { hmac: hmac.mock.calls.length, compares: cmp.mock.calls.length };
      } finally {
        hmac.mockRestore();
        cmp.mockRestore();
      }
    };
    const unknown = await work({ clientId: 'svc-nobody-here', secret: cur });
    expect(unknown.compares).toBe(3); // once per configured pepper, against the decoy
    expect(await work({ clientId: idNew, secret: `${cur.slice(0, -1)}x` })).toEqual(unknown);
    expect(await work({ clientId: idNew, secret: cur })).toEqual(unknown);
    // Under an old key: the same comparisons, plus the re-hash after success.
    expect((await work({ clientId: idOld, secret: old })).compares).toBe(unknown.compares);
  });

  test('rows hashed before peppers had ids get the current id at start only when no previous pepper is configured', async () => {
    const legacy = { id: randomUUID(), tenantId: randomUUID(), identityKind: 'service' as const, identityId: randomUUID(), env: 'live' as const, tokenHash: randomBytes(32), createdAt: clock.now(), expiresAt: new Date(clock.now().getTime() + 86_400_000), lastUsedAt: null, rotatedAt: null, rotationDeadline: null, revokedAt: null, replacedBy: null };
    await s.tokens.create(legacy);
    await stampUnversionedRows({ peppers: keyRing(b, [a]), stores: { api_tokens: s.tokens, client_secrets: s.secrets }, log: nullLogger });
    expect((await s.tokens.findById(legacy.id))?.pepperId).toBeUndefined();
    await stampUnversionedRows({ peppers: keyRing(b), stores: { api_tokens: s.tokens, client_secrets: s.secrets }, log: nullLogger });
    expect((await s.tokens.findById(legacy.id))?.pepperId).toBe(keyId(b));
  });
});

