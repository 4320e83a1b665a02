import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { keyId, keyRing, systemClock, type KeyRing } from '@mezite/identity';
import { createTestDatabase, nullLogger, runMigrations } from '@mezite/platform';
import { formatPublicKey, parseCertificate } from '@mezite/ssh';
import type { CertAuthorityStore } from '../domain/cert-authority';
import { startCertAuthorities } from '../domain/ca-startup';
import type { IssuedCertificateStore } from '../domain/issued-certificate';
import { openPrivateKey } from '../domain/key-encryption';
import { MemoryCertAuthorityStore } from './memory-cert-authority-store';
import { MemoryIssuedCertificateStore } from './memory-issued-certificate-store';
import { PrismaCertAuthorityStore } from './prisma-cert-authority-store';
import { PrismaIssuedCertificateStore } from './prisma-issued-certificate-store';
import { createPrismaClient } from './prisma';
import { keysCommand } from '../keys-command';

interface World {
  store: CertAuthorityStore;
  /** The same database through another pool: a second replica. */
  peer: CertAuthorityStore;
  issued: IssuedCertificateStore;
  /** Makes the stored CAs look as before migration 0004: no KEK id. */
  forgetKekIds(): Promise<void>;
  close(): Promise<void>;
}

const backends: Array<[string, () => Promise<World>]> = [
  [
    'postgres',
    async () => {
      const db = await createTestDatabase();
      await runMigrations({ databaseUrl: db.url, schema: 'sshca', dir: join(__dirname, '..', '..', 'migrations') });
      const prisma = createPrismaClient(db.url, 4);
      const replica = createPrismaClient(db.url, 4);
      return {
        store: new PrismaCertAuthorityStore(prisma),
        peer: new PrismaCertAuthorityStore(replica),
        issued: new PrismaIssuedCertificateStore(prisma),
        forgetKekIds: async () => void (await prisma.$executeRaw`UPDATE sshca.cert_authorities SET kek_id = NULL`),
        close: async () => {
          await Promise.all([prisma.$disconnect(), replica.$disconnect()]);
          await db.drop();
        },
      };
    },
  ],
  [
    'memory',
    async () => {
      const w: World = {
        store: new MemoryCertAuthorityStore(),
        peer: new MemoryCertAuthorityStore(),
        issued: new MemoryIssuedCertificateStore(),
        forgetKekIds: async () => {
          const bare = new MemoryCertAuthorityStore();
          for (const ca of await w.store.list()) {
            const { kekId: _k, ...row } = ca;
            await bare.insertActiveIfNone(row);
          }
          w.store = w.peer = bare;
        },
        close: async () => {},
      };
      w.peer = w.store;
      return w;
    },
  ],
];

const userRequest = () => ({ type: 'user' as const, publicKey: formatPublicKey(generateKeyPairSync('ed25519').publicKey, 'bot key'), keyId: 'bot:deploy', principals: ['deploy'], ttlSeconds: 3600, subjectId: randomUUID(), tenantId: randomUUID() });

describe.each(backends)('CA key-encryption key rotation on %s', (_name, make) => {
  let w: World;
  beforeEach(async () => {
    w = await make();
  });
  afterEach(async () => w.close());

  /** ssh-ca starting with these KEKs on the stored CAs (as main.ts starts it). */
  const start = (keks: KeyRing, store: CertAuthorityStore = w.store) => startCertAuthorities({ store, issued: w.issued, keks, algorithm: 'ecdsa-p256', clock: systemClock, log: nullLogger });
  const sign = async (keks: KeyRing) => parseCertificate((await (await start(keks)).signer.sign(userRequest())).certificate);
  const fingerprints = async () => (await w.store.list()).map((c) => `${c.id} ${c.fingerprint}`).sort();

  test('keys made under A are re-wrapped to B when ssh-ca starts with B (A previous), once though two replicas start together; then B alone signs', async () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const first = await start(keyRing(a));
    await first.cas.rotate('user', 'init'); // a CA that does not sign yet is re-wrapped too
    const signedUnderA = await sign(keyRing(a));
    const before = await fingerprints();
    expect(before).toHaveLength(3);
    expect((await w.store.list()).map((c) => c.kekId)).toEqual([keyId(a), keyId(a), keyId(a)]);

    // Two replicas start at once with the new KEK; each key is re-wrapped exactly once.
    const rewrapped: number[] = [];
    const log = { ...nullLogger, info: (msg: string, f?: Record<string, unknown>) => void (msg.startsWith('CA keys sealed') && rewrapped.push(f?.rewrapped as number)) };
    const both = await Promise.all([w.store, w.peer].map((store) => startCertAuthorities({ store, issued: w.issued, keks: keyRing(b, [a]), algorithm: 'ecdsa-p256', clock: systemClock, log: log as typeof nullLogger })));
    expect(rewrapped.reduce((x, y) => x + y, 0)).toBe(3);
    const stored = await w.store.list();
    expect(stored.map((c) => c.kekId)).toEqual([keyId(b), keyId(b), keyId(b)]);
    for (const c of stored) expect(() => openPrivateKey(a, c.id, c.encryptedPrivateKey)).toThrow(/wrong key-encryption key/);
    expect(await fingerprints()).toEqual(before); // the same CAs, no new one
    const signedDuringRotation = parseCertificate((await (both[0] as Awaited<ReturnType<typeof start>>).signer.sign(userRequest())).certificate);
    expect(signedDuringRotation.signatureKey).toEqual(signedUnderA.signatureKey);

    // A dropped: B alone opens every key and signs with the same CA.
    expect((await sign(keyRing(b))).signatureKey).toEqual(signedUnderA.signatureKey);
    expect(await w.store.countByKek()).toEqual([{ keyId: keyId(b), rows: 3 }]);
  });

  test('a start with only a KEK that opens nothing fails, naming the KEK id it lacks, and makes no new CA', async () => {
    const [a, c] = [randomBytes(32), randomBytes(32)];
    await start(keyRing(a));
    const before = await fingerprints();
    const err = await start(keyRing(c)).catch((e: unknown) => e);
    expect((err as Error).message).toContain(`sealed under key-encryption key ${keyId(a)}`);
    expect((err as Error).message).toContain(`MEZITE_CA_KEK (${keyId(c)})`);
    expect(await fingerprints()).toEqual(before);
  });

  test('keys sealed before KEKs had ids are opened with whichever configured KEK works and re-wrapped with its id', async () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    await start(keyRing(a));
    await w.forgetKekIds(); // as the rows were before migration 0004 (sealed under A)
    expect((await w.store.list()).map((c) => c.kekId)).toEqual([undefined, undefined]);
    const err = await start(keyRing(randomBytes(32))).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/sealed before key-encryption keys had ids/);
    await start(keyRing(b, [a]));
    expect((await w.store.list()).map((c) => c.kekId)).toEqual([keyId(b), keyId(b)]);
    await sign(keyRing(b));
  });
});

describe('mezite-keys ssh-ca status', () => {
  test('shows the CA keys under each KEK, before and after the re-wrap', async () => {
    const db = await createTestDatabase();
    try {
      await runMigrations({ databaseUrl: db.url, schema: 'sshca', dir: join(__dirname, '..', '..', 'migrations') });
      const prisma = createPrismaClient(db.url, 2);
      const [a, b] = [randomBytes(32), randomBytes(32)];
      const start = (keks: KeyRing) => startCertAuthorities({ store: new PrismaCertAuthorityStore(prisma), issued: new PrismaIssuedCertificateStore(prisma), keks, algorithm: 'ecdsa-p256', clock: systemClock, log: nullLogger });
      await start(keyRing(a));
      const env = { DATABASE_URL: db.url, MEZITE_CA_KEK: b.toString('base64'), MEZITE_CA_KEK_PREVIOUS: a.toString('base64') };
      const before = JSON.parse((await keysCommand(['status', '--json'], env)).out)['ssh-ca'][0];
      expect(before).toMatchObject({ stillNeeded: [keyId(a)], rows: [{ keyId: keyId(b), role: 'current', rows: { ca_keys: 0 } }, { keyId: keyId(a), role: 'previous', rows: { ca_keys: 2 } }] });
      await start(keyRing(b, [a]));
      const after = await keysCommand(['status'], env);
      expect(after.out).toMatch(new RegExp(`^${keyId(b)}\\s+current\\s+2$`, 'm'));
      expect(after.out).toContain(`No live row needs ${keyId(a)}: remove it from MEZITE_CA_KEK_PREVIOUS`);
      await prisma.$disconnect();
    } finally {
      await db.drop();
    }
  });
});
