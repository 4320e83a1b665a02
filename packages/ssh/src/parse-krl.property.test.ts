import { generateKeyPairSync } from 'node:crypto';
import { isMeziteError } from '@mezite/identity';
import * as fc from 'fast-check';
import { assertProperty } from '@mezite/identity/testing';
import { encodeKrl, isCertificateRevoked, type KrlInput, type ParsedKrl, parseKrl } from './krl';
import { encodePublicKey } from './public-key';
import { SshWriter } from './wire';

/**
 * Properties of the KRL parser beyond krl.test.ts's examples and seeded fuzzing: what
 * encodeKrl writes, parseKrl reads back as the same revocations (and nothing more);
 * the encoding does not depend on input order; a bitmap revokes exactly its set bits;
 * and on structured-but-wrong KRLs (real section framing, random types and contents)
 * parseKrl either refuses with InvalidArgument or returns a normalised result.
 */

const MAX = (1n << 64n) - 1n;
const caBlobs = [encodePublicKey(generateKeyPairSync('ed25519').publicKey), encodePublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)];

function attempt(bytes: Buffer): ParsedKrl | undefined {
  try {
    return parseKrl(bytes);
  } catch (err) {
    if (isMeziteError(err, 'InvalidArgument')) return undefined;
    throw new Error(`parseKrl threw ${String(err)} for ${bytes.toString('hex').slice(0, 2000)}`);
  }
}

/** Serials: anywhere in 1..2^64-1, and runs of neighbours (which become range subsections). */
const serials = fc.oneof(
  fc.array(fc.bigInt({ min: 1n, max: MAX }), { maxLength: 20 }),
  fc.tuple(fc.bigInt({ min: 1n, max: MAX - 64n }), fc.array(fc.integer({ min: 0, max: 63 }), { maxLength: 30 })).map(([base, offs]) => offs.map((o) => base + BigInt(o))),
);
const keyId = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((s) => !s.includes('\0') && !/[\uD800-\uDFFF]/.test(s));
const krlInput: fc.Arbitrary<KrlInput> = fc.record({
  version: fc.bigInt({ min: 0n, max: MAX }),
  generatedAt: fc.integer({ min: 0, max: 4_102_444_800 }).map((s) => new Date(s * 1000)),
  comment: keyId,
  certificates: fc.array(fc.record({ caPublicKeyBlob: fc.constantFrom(...caBlobs), serials, keyIds: fc.array(keyId, { maxLength: 5 }) }), { maxLength: 4 }),
  revokedKeySha256: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)), { maxLength: 4 }),
});

/** Section framing as PROTOCOL.krl has it, with whatever types and bodies the generator picks. */
function krlBytes(sections: Array<[number, Buffer]>): Buffer {
  const w = new SshWriter().raw(Buffer.from('SSHKRL\n\0', 'latin1')).uint32(1).uint64(7n).uint64(0n).uint64(0n).string('').string('');
  for (const [type, body] of sections) w.raw(Buffer.of(type)).string(body);
  return Buffer.from(w.toBuffer());
}
const u64 = fc.oneof(fc.bigInt({ min: 0n, max: MAX }), fc.constantFrom(0n, 1n, MAX, MAX - 1n));
const subsection: fc.Arbitrary<[number, Buffer]> = fc.oneof(
  fc.array(u64, { maxLength: 6 }).map((ns) => [0x20, ns.reduce((w, n) => w.uint64(n), new SshWriter()).toBuffer()] as [number, Buffer]),
  fc.tuple(u64, u64).map(([a, b]) => [0x21, new SshWriter().uint64(a).uint64(b).toBuffer()] as [number, Buffer]),
  fc.tuple(u64, fc.uint8Array({ maxLength: 40 })).map(([o, bits]) => [0x22, new SshWriter().uint64(o).string(Buffer.from(bits)).toBuffer()] as [number, Buffer]),
  fc.array(fc.uint8Array({ maxLength: 12 }), { maxLength: 4 }).map((ids) => [0x23, ids.reduce((w, id) => w.string(Buffer.from(id)), new SshWriter()).toBuffer()] as [number, Buffer]),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 24 })).map(([t, b]) => [t, Buffer.from(b)] as [number, Buffer]),
);
const section: fc.Arbitrary<[number, Buffer]> = fc.oneof(
  fc.tuple(fc.oneof(fc.constantFrom(...caBlobs), fc.constant(Buffer.alloc(0)), fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))), fc.array(subsection, { maxLength: 4 })).map(([ca, subs]) => {
    const w = new SshWriter().string(ca).string('');
    for (const [t, b] of subs) w.raw(Buffer.of(t)).string(b);
    return [1, w.toBuffer()] as [number, Buffer];
  }),
  fc.array(fc.oneof(fc.constantFrom(...caBlobs), fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))), { maxLength: 3 }).map((keys) => [2, keys.reduce((w, k) => w.string(k), new SshWriter()).toBuffer()] as [number, Buffer]),
  fc.tuple(fc.constantFrom(3, 5), fc.array(fc.uint8Array({ minLength: 19, maxLength: 33 }), { maxLength: 3 })).map(([t, hs]) => [t, hs.reduce((w, h) => w.string(Buffer.from(h)), new SshWriter()).toBuffer()] as [number, Buffer]),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 })).map(([t, b]) => [t, Buffer.from(b)] as [number, Buffer]),
);

describe('parseKrl properties', () => {
  test('parseKrl(encodeKrl(x)) revokes exactly what x revokes', () => {
    assertProperty(
      fc.property(krlInput, fc.bigInt({ min: 0n, max: MAX }), (x, probe) => {
        const k = parseKrl(encodeKrl(x));
        expect(k.version).toBe(x.version);
        expect(k.comment).toBe(x.comment);
        expect(k.revokedKeySha256.map((h) => h.toString('hex'))).toEqual([...new Set((x.revokedKeySha256 ?? []).map((h) => h.toString('hex')))].sort());
        for (const ca of caBlobs) {
          const revokedSerials = new Set(x.certificates.filter((c) => c.caPublicKeyBlob.equals(ca)).flatMap((c) => [...(c.serials ?? [])]));
          const revokedIds = new Set(x.certificates.filter((c) => c.caPublicKeyBlob.equals(ca)).flatMap((c) => [...(c.keyIds ?? [])]));
          const section = k.certificates.find((c) => c.caPublicKeyBlob.equals(ca));
          const covered = (section?.serialRanges ?? []).reduce((n, r) => n + (r.last - r.first + 1n), 0n);
          expect(covered).toBe(BigInt(revokedSerials.size));
          for (const s of revokedSerials) expect(isCertificateRevoked(k, { caPublicKeyBlob: ca, serial: s, keyId: '\0none' })).toBe(true);
          for (const id of revokedIds) expect(isCertificateRevoked(k, { caPublicKeyBlob: ca, serial: 0n, keyId: id })).toBe(true);
          for (const s of [probe, ...[...revokedSerials].flatMap((v) => [v - 1n, v + 1n])]) {
            if (s < 0n || s > MAX) continue;
            expect(isCertificateRevoked(k, { caPublicKeyBlob: ca, serial: s, keyId: '\0none' })).toBe(revokedSerials.has(s) && s !== 0n);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  // CA sections follow the order in which CAs first appear in the input (documented);
  // everything inside them is sorted, so only that order may change the bytes.
  test('the encoding does not depend on the order of serials, key ids and hashes, or on repeated entries', () => {
    assertProperty(
      fc.property(krlInput, fc.infiniteStream(fc.nat()), (x, rnd) => {
        const shuffle = <T>(a: readonly T[]): T[] => a.map((v) => [rnd.next().value as number, v] as const).sort((p, q) => p[0] - q[0]).map(([, v]) => v);
        const y: KrlInput = {
          ...x,
          certificates: [...x.certificates, ...shuffle(x.certificates)].map((c) => ({ ...c, serials: shuffle(c.serials ?? []), keyIds: shuffle(c.keyIds ?? []) })),
          revokedKeySha256: shuffle(x.revokedKeySha256 ?? []),
        };
        expect(encodeKrl(y).equals(encodeKrl(x))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  test('a serial bitmap revokes exactly offset + n for each set bit n', () => {
    assertProperty(
      fc.property(fc.bigInt({ min: 1n, max: MAX - 2048n * 8n }), fc.uint8Array({ minLength: 1, maxLength: 64 }), (offset, bits) => {
        const sub = new SshWriter().uint64(offset).unsignedMpint(Buffer.from(bits)).toBuffer();
        const body = new SshWriter().string(caBlobs[0] as Buffer).string('').raw(Buffer.of(0x22)).string(sub).toBuffer();
        const k = parseKrl(krlBytes([[1, body]]));
        const magnitude = BigInt(`0x${Buffer.from(bits).toString('hex')}`);
        for (let n = 0n; n < BigInt(bits.length * 8) + 2n; n++) {
          const set = ((magnitude >> n) & 1n) === 1n;
          expect(isCertificateRevoked(k, { caPublicKeyBlob: caBlobs[0] as Buffer, serial: offset + n, keyId: '\0none' })).toBe(set);
        }
      }),
      { numRuns: 200 },
    );
  });

  test('structured-but-wrong KRLs: refused with InvalidArgument, or a normalised result', () => {
    let parsed = 0;
    assertProperty(
      fc.property(fc.array(section, { maxLength: 5 }), (sections) => {
        const k = attempt(krlBytes(sections));
        if (!k) return;
        parsed++;
        for (const c of k.certificates) {
          let prev = -1n;
          for (const r of c.serialRanges) {
            expect(r.first >= 1n && r.first <= r.last && r.last <= MAX && r.first > prev + 1n).toBe(true);
            prev = r.last;
          }
          const ids = c.keyIds.map((id) => Buffer.from(id, 'utf8'));
          for (let i = 1; i < ids.length; i++) expect(Buffer.compare(ids[i - 1] as Buffer, ids[i] as Buffer)).toBe(-1);
        }
        for (const h of k.revokedKeySha1) expect(h.length).toBe(20);
        for (const h of k.revokedKeySha256) expect(h.length).toBe(32);
      }),
      { numRuns: 3000 },
    );
    // The generator must reach past the framing: a good share parses (empty lists, valid sections).
    expect(parsed).toBeGreaterThan(150);
  });
});
