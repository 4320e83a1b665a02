import { randomUUID } from 'node:crypto';
import { isMeziteError } from '@mezite/identity';
import type { IssuedCertificate, IssuedCertificateStore } from '../domain/issued-certificate';

/** What a contract run needs: a store, and two CA ids it accepts (a user CA and a host CA). */
export interface IssuedCertificateStoreFixture {
  store: IssuedCertificateStore;
  caIds: readonly [string, string];
  close(): Promise<void>;
}

/** The one suite every IssuedCertificateStore passes (STYLE.md §4). */
export function issuedCertificateStoreContract(name: string, make: () => Promise<IssuedCertificateStoreFixture>): void {
  describe(`IssuedCertificateStore contract: ${name}`, () => {
    let f: IssuedCertificateStoreFixture;
    beforeAll(async () => {
      f = await make();
    });
    afterAll(async () => f?.close());

    let nextSerial = 1000n;
    const cert = (over: Partial<IssuedCertificate> = {}): IssuedCertificate => {
      const serial = over.serial ?? nextSerial++;
      return {
        caId: f.caIds[0],
        serial,
        type: 'user',
        keyId: `bot:deploy/${serial}`,
        principals: ['deploy', 'ubuntu'],
        subjectId: randomUUID(),
        tenantId: randomUUID(),
        publicKeyFingerprint: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
        validAfter: new Date('2026-01-01T00:00:00Z'),
        validBefore: new Date('2026-01-01T01:00:00Z'),
        createdAt: new Date('2026-01-01T00:01:00.123Z'),
        ...over,
      };
    };

    test('insert then find returns the same record, the largest serial included', async () => {
      const c = cert({ serial: 2n ** 63n - 1n, principals: ['b', 'a', 'host.example.com'] });
      await f.store.insert(c);
      expect(await f.store.find(c.caId, c.serial)).toEqual(c);
      expect(await f.store.find(c.caId, 2n ** 63n - 2n)).toBeNull();
      expect(await f.store.find(f.caIds[1], c.serial)).toBeNull();
    });

    test('subject and tenant may be absent', async () => {
      const c = cert({ subjectId: null, tenantId: null, type: 'host', caId: f.caIds[1] });
      await f.store.insert(c);
      expect(await f.store.find(c.caId, c.serial)).toEqual(c);
    });

    test('a serial is unique per CA: a repeat is AlreadyExists and keeps the first; another CA may reuse it', async () => {
      const first = cert();
      await f.store.insert(first);
      const err = await f.store.insert(cert({ serial: first.serial, keyId: 'other' })).catch((e: unknown) => e);
      expect(isMeziteError(err, 'AlreadyExists')).toBe(true);
      expect(await f.store.find(first.caId, first.serial)).toEqual(first);
      const twin = cert({ serial: first.serial, caId: f.caIds[1], type: 'host' });
      await f.store.insert(twin);
      expect(await f.store.find(twin.caId, twin.serial)).toEqual(twin);
    });

    test('concurrent inserts are each logged once; of two racing with one serial exactly one is AlreadyExists, the others are unaffected', async () => {
      const many = Array.from({ length: 40 }, () => cert({ principals: ['a"b', 'c d', '{e}'] }));
      const dupe = cert({ serial: many[7]?.serial ?? 0n, keyId: 'dupe' });
      const results = await Promise.allSettled([...many, dupe].map((c) => f.store.insert(c)));
      const refused = results.filter((r) => r.status === 'rejected');
      expect(refused).toHaveLength(1);
      expect(isMeziteError((refused[0] as PromiseRejectedResult).reason, 'AlreadyExists')).toBe(true);
      for (const c of many) expect(await f.store.find(c.caId, c.serial)).toEqual(c);
    });

    test("listBySubject returns the subject's certificates oldest first, optionally only the unexpired", async () => {
      const subjectId = randomUUID();
      const at = (iso: string) => new Date(iso);
      const old = cert({ subjectId, createdAt: at('2026-01-01T00:00:00Z'), validAfter: at('2025-12-31T23:59:00Z'), validBefore: at('2026-01-01T01:00:00Z') });
      const mid = cert({ subjectId, createdAt: at('2026-01-01T00:30:00Z'), validAfter: at('2026-01-01T00:29:00Z'), validBefore: at('2026-01-01T01:30:00Z') });
      const recent = cert({ subjectId, caId: f.caIds[1], type: 'host', createdAt: at('2026-01-01T01:00:00Z'), validAfter: at('2026-01-01T00:59:00Z'), validBefore: at('2026-01-02T01:00:00Z') });
      await f.store.insert(recent);
      await f.store.insert(old);
      await f.store.insert(mid);
      await f.store.insert(cert()); // another subject
      expect(await f.store.listBySubject(subjectId)).toEqual([old, mid, recent]);
      expect(await f.store.listBySubject(subjectId, { unexpiredAt: at('2026-01-01T01:00:00Z') })).toEqual([mid, recent]);
      expect(await f.store.listBySubject(subjectId, { unexpiredAt: at('2026-01-02T01:00:00Z') })).toEqual([]);
      expect(await f.store.listBySubject(randomUUID())).toEqual([]);
    });

    test('listRevocable returns the unexpired certificates of the named subjects and serials, and nothing for empty lists', async () => {
      const at = (iso: string) => new Date(iso);
      const subjectId = randomUUID();
      const live = cert({ subjectId, validBefore: at('2026-03-01T00:00:00Z') });
      const expired = cert({ subjectId, validBefore: at('2026-01-15T00:00:00Z') });
      const bySerial = cert({ caId: f.caIds[1], type: 'host', validBefore: at('2026-03-01T00:00:00Z') });
      const other = cert({ validBefore: at('2026-03-01T00:00:00Z') });
      for (const c of [live, expired, bySerial, other]) await f.store.insert(c);
      const got = await f.store.listRevocable({ subjectIds: [subjectId, randomUUID()], serials: [bySerial.serial, 999_999_999n], unexpiredAt: at('2026-02-01T00:00:00Z') });
      expect(got.map((c) => c.serial).sort()).toEqual([live.serial, bySerial.serial].sort());
      expect(await f.store.listRevocable({ subjectIds: [], serials: [], unexpiredAt: at('2026-02-01T00:00:00Z') })).toEqual([]);
    });

    test('findBySerial finds a certificate whatever its CA; lastExpiry is the latest valid_before of a CA', async () => {
      const c = cert({ caId: f.caIds[1], type: 'host', serial: 7_000_000_000_000_000_001n, validBefore: new Date('2031-01-01T00:00:00Z') });
      await f.store.insert(c);
      expect(await f.store.findBySerial(c.serial)).toEqual(c);
      expect(await f.store.findBySerial(7_000_000_000_000_000_002n)).toBeNull();
      expect(await f.store.lastExpiry(f.caIds[1])).toEqual(new Date('2031-01-01T00:00:00Z'));
      expect(await f.store.lastExpiry(randomUUID())).toBeNull();
    });

    test('records are copies: changing a returned one changes nothing stored', async () => {
      const c = cert();
      await f.store.insert(c);
      const got = await f.store.find(c.caId, c.serial);
      got?.principals.push('root');
      c.principals.push('root');
      expect((await f.store.find(c.caId, c.serial))?.principals).toEqual(['deploy', 'ubuntu']);
    });
  });
}
