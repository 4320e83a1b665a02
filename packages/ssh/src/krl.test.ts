import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isMeziteError } from '@mezite/identity';
import { describeNeeding } from '@mezite/identity/testing';
import { generateCaKey } from './ca-key';
import { signCertificate } from './certificate';
import { encodeKrl, isCertificateRevoked, isKeyRevoked, type KrlInput, type ParsedKrl, parseKrl } from './krl';
import { encodePublicKey, formatPublicKey } from './public-key';
import { KeygenWorkspace, SSH_KEYGEN } from './test-openssh';
import { SshWriter } from './wire';

/**
 * KRLs judged by stock OpenSSH. Written against OpenSSH_9.2p1 (Debian 12), where the
 * behaviour depends on the version: 9.2 refuses extension sections (255, added in 9.4)
 * and still reads signature sections, which 9.4 and later refuse. parseKrl refuses
 * both, so whatever it accepts loads in either.
 */
const missing = existsSync(SSH_KEYGEN) ? undefined : `${SSH_KEYGEN} is not installed (apt-get install openssh-client; .ci/run does)`;
const opensshVersion = missing ? 'none' : (spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr ?? '').trim();

const ws = new KeygenWorkspace();
afterAll(() => ws.cleanup());

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
const MAX = (1n << 64n) - 1n;
const BIG = (1n << 63n) + 12345n;

const ca = generateCaKey('ed25519').privateKey;
const ca2 = generateCaKey('ecdsa-p256').privateKey;
const revokedCa = generateCaKey('ed25519').privateKey;
const [caBlob, ca2Blob, revokedCaBlob] = [ca, ca2, revokedCa].map((k) => encodePublicKey(k)) as [Buffer, Buffer, Buffer];
const subject = encodePublicKey(generateKeyPairSync('ed25519').publicKey);
const revokedSubject = encodePublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
const third = encodePublicKey(generateKeyPairSync('ed25519').publicKey);

function cert(signer: KeyObject, serial: bigint, keyId: string, subjectKey = subject): string {
  const validAfter = new Date('2024-01-01T00:00:00Z');
  return signCertificate({ ca: { key: signer }, subjectKey, type: 'user', serial, keyId, principals: ['deploy'], validAfter, validBefore: new Date('2099-01-01T00:00:00Z') }).line;
}

/** `ssh-keygen -Q`: exit 1 and REVOKED, exit 0 and ok; anything else (a KRL it cannot load) is returned as an error. */
function query(krlPath: string, keyLine: string): string {
  const r = spawnSync(SSH_KEYGEN, ['-Q', '-f', krlPath, ws.file(`${keyLine}\n`)], { encoding: 'utf8' });
  if (r.status === 1 && r.stdout.includes(': REVOKED')) return 'REVOKED';
  if (r.status === 0 && r.stdout.includes(': ok')) return 'ok';
  return `error ${r.status}: ${r.stderr.trim()}`;
}

/** `ssh-keygen -Ql` without the header lines (version, date, comment). */
function dump(krlPath: string): string {
  return ws.run('-Q', '-l', '-f', krlPath).split('\n').filter((l) => !l.startsWith('# KRL version') && !l.startsWith('# Generated at') && !l.startsWith('# Comment')).join('\n').trim();
}

/** What a KRL revokes, without its date and comment. */
const content = (k: ParsedKrl) => ({ version: k.version, certificates: k.certificates, revokedKeys: k.revokedKeys, revokedKeySha1: k.revokedKeySha1, revokedKeySha256: k.revokedKeySha256 });

const input: KrlInput = {
  version: 42n,
  generatedAt: new Date('2025-03-04T05:06:07.890Z'),
  comment: 'mezite test',
  certificates: [
    { caPublicKeyBlob: caBlob, serials: [100n, 8n, 5n, BIG, 7n, MAX, 9n, 5n], keyIds: ['zeta', 'bot:deploy', 'é-ünï'] },
    { caPublicKeyBlob: ca2Blob, serials: [3n], keyIds: ['alice'] },
  ],
  revokedKeySha256: [sha256(revokedSubject), sha256(revokedCaBlob), sha256(revokedSubject)],
};
const ours = encodeKrl(input);

describe('encodeKrl', () => {
  it('reads back as the same content, sorted, unique and with the run 7-9 as a range', () => {
    const k = parseKrl(ours);
    expect(k.version).toBe(42n);
    expect(k.generatedAt).toEqual(new Date('2025-03-04T05:06:07Z'));
    expect(k.comment).toBe('mezite test');
    expect(k.certificates).toEqual([
      {
        caPublicKeyBlob: caBlob,
        serialRanges: [{ first: 5n, last: 5n }, { first: 7n, last: 9n }, { first: 100n, last: 100n }, { first: BIG, last: BIG }, { first: MAX, last: MAX }],
        keyIds: ['bot:deploy', 'zeta', 'é-ünï'],
      },
      { caPublicKeyBlob: ca2Blob, serialRanges: [{ first: 3n, last: 3n }], keyIds: ['alice'] },
    ]);
    expect(k.revokedKeySha256).toEqual([sha256(revokedSubject), sha256(revokedCaBlob)].sort(Buffer.compare));
    expect(k.revokedKeys).toEqual([]);
    expect(k.revokedKeySha1).toEqual([]);
  });

  it('writes the bytes PROTOCOL.krl describes', () => {
    const krl = encodeKrl({ version: 7n, generatedAt: new Date(1_000_000_000_999), comment: 'c', certificates: [{ caPublicKeyBlob: caBlob, serials: [10n, 2n, 1n, 3n], keyIds: ['b', 'a'] }] });
    const subsections = new SshWriter()
      .raw(Buffer.of(0x21)).string(new SshWriter().uint64(1n).uint64(3n).toBuffer())
      .raw(Buffer.of(0x20)).string(new SshWriter().uint64(10n).toBuffer())
      .raw(Buffer.of(0x23)).string(new SshWriter().string('a').string('b').toBuffer())
      .toBuffer();
    const expected = new SshWriter()
      .raw(Buffer.from('SSHKRL\n\0', 'latin1')).uint32(1).uint64(7n).uint64(1_000_000_000n).uint64(0n).string('').string('c')
      .raw(Buffer.of(1)).string(new SshWriter().string(caBlob).string('').raw(subsections).toBuffer())
      .toBuffer();
    expect(krl.toString('hex')).toBe(expected.toString('hex'));
  });

  it('gives the same bytes whatever the order and duplicates, and merges entries for one CA', () => {
    const shuffled: KrlInput = {
      ...input,
      certificates: [
        { caPublicKeyBlob: ca2Blob, keyIds: ['alice', 'alice'] },
        { caPublicKeyBlob: caBlob, serials: [MAX, 9n, 100n], keyIds: ['é-ünï', 'bot:deploy'] },
        { caPublicKeyBlob: ca2Blob, serials: [3n] },
        { caPublicKeyBlob: caBlob, serials: [7n, BIG, 5n, 8n], keyIds: ['zeta'] },
      ],
      revokedKeySha256: [sha256(revokedCaBlob), sha256(revokedSubject)],
    };
    // Entries come out in the order their CA first appears, so swap the CAs back for the byte comparison.
    expect(content(parseKrl(encodeKrl(shuffled)))).toEqual({ ...content(parseKrl(ours)), certificates: [...parseKrl(ours).certificates].reverse() });
    expect(encodeKrl({ ...shuffled, certificates: [...shuffled.certificates].reverse() }).equals(ours)).toBe(true);
  });

  it('leaves out a CA with nothing revoked, and writes a header alone when nothing is revoked', () => {
    const empty = encodeKrl({ version: 1n, generatedAt: new Date(0), certificates: [{ caPublicKeyBlob: caBlob, serials: [], keyIds: [] }] });
    expect(empty.length).toBe(8 + 4 + 8 + 8 + 8 + 4 + 4);
    expect(parseKrl(empty)).toEqual({ version: 1n, generatedAt: new Date(0), comment: '', certificates: [], revokedKeys: [], revokedKeySha1: [], revokedKeySha256: [] });
  });

  const base = (): KrlInput => ({ version: 1n, generatedAt: new Date(0), certificates: [] });
  it.each<[string, (i: KrlInput) => void, RegExp]>([
    ['serial 0 (OpenSSH refuses the whole KRL)', (i) => (i.certificates = [{ caPublicKeyBlob: caBlob, serials: [0n] }]), /serial 0 is outside/],
    ['a serial of 2^64', (i) => (i.certificates = [{ caPublicKeyBlob: caBlob, serials: [MAX + 1n] }]), /outside 1 \.\. 2\^64-1/],
    ['a negative serial', (i) => (i.certificates = [{ caPublicKeyBlob: caBlob, serials: [-1n] }]), /outside/],
    ['a key id with NUL', (i) => (i.certificates = [{ caPublicKeyBlob: caBlob, keyIds: ['a\0b'] }]), /must not contain NUL/],
    ['a key id with a lone surrogate', (i) => (i.certificates = [{ caPublicKeyBlob: caBlob, keyIds: ['a\ud800'] }]), /well-formed/],
    ['a comment with NUL', (i) => (i.comment = 'x\0'), /comment must not contain NUL/],
    ['a CA blob that is not a key', (i) => (i.certificates = [{ caPublicKeyBlob: Buffer.from('nonsense'), serials: [1n] }]), /public key|truncated/],
    ['a certificate as the CA key', (i) => (i.certificates = [{ caPublicKeyBlob: Buffer.from(cert(ca, 1n, 'x').split(' ')[1] as string, 'base64'), serials: [1n] }]), /unsupported key type/],
    ['a 31-byte hash', (i) => (i.revokedKeySha256 = [Buffer.alloc(31)]), /32 bytes/],
    ['an invalid date', (i) => (i.generatedAt = new Date(NaN)), /generatedAt/],
    ['a date before 1970', (i) => (i.generatedAt = new Date(-1000)), /generatedAt/],
    ['a version of 2^64', (i) => (i.version = MAX + 1n), /uint64 out of range/],
  ])('refuses %s', (_name, mutate, message) => {
    const i = base();
    mutate(i);
    expect(() => encodeKrl(i)).toThrow(expect.objectContaining({ code: 'InvalidArgument', message: expect.stringMatching(message) }));
  });
});

describeNeeding(missing, `stock ssh-keygen (${opensshVersion})`, () => {
  const ourPath = ws.file(ours, 'ours.krl');
  const caPub = ws.file(`${formatPublicKey(ca, 'ca')}\n`, 'ca.pub');
  const ca2Pub = ws.file(`${formatPublicKey(ca2, 'ca2')}\n`, 'ca2.pub');
  const theirPath = `${ws.dir}/theirs.krl`;
  const hashLine = (blob: Buffer) => `hash: SHA256:${sha256(blob).toString('base64').replace(/=+$/, '')}`;
  const parsedOurs = parseKrl(ours);
  let theirs: Buffer;
  // The same revocations written by ssh-keygen -k from a spec, the second CA added with -u.
  beforeAll(() => {
    ws.run('-k', '-z', '42', '-f', theirPath, '-s', caPub, ws.file(`serial: 5\nserial: 7-9\nserial: 100\nserial: ${BIG}\nserial: ${MAX}\nid: zeta\nid: bot:deploy\nid: é-ünï\n`));
    ws.run('-k', '-u', '-f', theirPath, '-s', ca2Pub, ws.file(`serial: 3\nid: alice\n${hashLine(revokedSubject)}\n${hashLine(revokedCaBlob)}\n`));
    theirs = readFileSync(theirPath);
  });

  it('writes a KRL parseKrl reads as the same content as ours (its serials 5,7-9 as a bitmap)', () => {
    expect(theirs.equals(ours)).toBe(false); // different sections for the same content: the comparison means something
    expect(content(parseKrl(theirs))).toEqual(content(parsedOurs));
  });

  it('dumps ours and its own identically', () => {
    expect(dump(ourPath)).toBe(dump(theirPath));
    expect(dump(ourPath)).toContain('serial: 7-9\nserial: 100\n');
  });

  const plain = (blob: Buffer) => formatPublicKey(blob);
  const table: [string, string, { caPublicKeyBlob: Buffer; serial: bigint; keyId: string; subjectKeyBlob?: Buffer } | Buffer, boolean][] = [
    ['serial 5', cert(ca, 5n, 'other'), { caPublicKeyBlob: caBlob, serial: 5n, keyId: 'other' }, true],
    ['serial 6, between revoked ones', cert(ca, 6n, 'other'), { caPublicKeyBlob: caBlob, serial: 6n, keyId: 'other' }, false],
    ['serial 8, inside the range', cert(ca, 8n, 'other'), { caPublicKeyBlob: caBlob, serial: 8n, keyId: 'other' }, true],
    ['serial 10, after the range', cert(ca, 10n, 'other'), { caPublicKeyBlob: caBlob, serial: 10n, keyId: 'other' }, false],
    ['a 64-bit serial', cert(ca, BIG, 'other'), { caPublicKeyBlob: caBlob, serial: BIG, keyId: 'other' }, true],
    ['the serial before it', cert(ca, BIG - 1n, 'other'), { caPublicKeyBlob: caBlob, serial: BIG - 1n, keyId: 'other' }, false],
    ['serial 2^64-1', cert(ca, MAX, 'other'), { caPublicKeyBlob: caBlob, serial: MAX, keyId: 'other' }, true],
    ['a revoked key id', cert(ca, 77n, 'bot:deploy'), { caPublicKeyBlob: caBlob, serial: 77n, keyId: 'bot:deploy' }, true],
    ['a revoked non-ASCII key id', cert(ca, 77n, 'é-ünï'), { caPublicKeyBlob: caBlob, serial: 77n, keyId: 'é-ünï' }, true],
    ['a key id that only prefixes a revoked one', cert(ca, 77n, 'bot:'), { caPublicKeyBlob: caBlob, serial: 77n, keyId: 'bot:' }, false],
    ['serial 0 with a revoked key id', cert(ca, 0n, 'zeta'), { caPublicKeyBlob: caBlob, serial: 0n, keyId: 'zeta' }, true],
    ['serial 0 otherwise', cert(ca, 0n, 'other'), { caPublicKeyBlob: caBlob, serial: 0n, keyId: 'other' }, false],
    ['serial 5 of the other CA', cert(ca2, 5n, 'other'), { caPublicKeyBlob: ca2Blob, serial: 5n, keyId: 'other' }, false],
    ['serial 3 of the other CA', cert(ca2, 3n, 'other'), { caPublicKeyBlob: ca2Blob, serial: 3n, keyId: 'other' }, true],
    ['a key id revoked only under the first CA', cert(ca2, 9000n, 'bot:deploy'), { caPublicKeyBlob: ca2Blob, serial: 9000n, keyId: 'bot:deploy' }, false],
    ['any certificate of a CA revoked by hash', cert(revokedCa, 1n, 'other'), { caPublicKeyBlob: revokedCaBlob, serial: 1n, keyId: 'other' }, true],
    ['a certificate for a key revoked by hash', cert(ca2, 9000n, 'other', revokedSubject), { caPublicKeyBlob: ca2Blob, serial: 9000n, keyId: 'other', subjectKeyBlob: revokedSubject }, true],
    ['a plain key revoked by hash', plain(revokedSubject), revokedSubject, true],
    ['another plain key', plain(subject), subject, false],
  ];

  it.each(table)('judges %s as ssh-keygen -Q does, for our KRL and its own', (_name, line, ref, revoked) => {
    const verdict = revoked ? 'REVOKED' : 'ok';
    expect(query(ourPath, line)).toBe(verdict);
    expect(query(theirPath, line)).toBe(verdict);
    for (const k of [parsedOurs, parseKrl(theirs)]) {
      expect(Buffer.isBuffer(ref) ? isKeyRevoked(k, ref) : isCertificateRevoked(k, ref)).toBe(revoked);
    }
  });

  it('loads an empty KRL and revokes nothing', () => {
    const empty = ws.file(encodeKrl({ version: 1n, generatedAt: new Date(), certificates: [] }), 'empty.krl');
    expect(query(empty, cert(ca, 5n, 'bot:deploy'))).toBe('ok');
    expect(query(empty, plain(revokedSubject))).toBe('ok');
    expect(dump(empty)).toBe('');
  });

  it('agrees with parseKrl on a wildcard CA section, repeats, disorder and duplicates', () => {
    const messy = krl(
      certSection(Buffer.alloc(0), [0x23, ids('alice')]),
      certSection(ca2Blob, [0x20, u64s(9n, 4n, 9n)], [0x22, new SshWriter().uint64(20n).string(Buffer.of(0x00, 0x05)).toBuffer()], [0x23, ids('zz', 'b', 'zz')]),
      certSection(ca2Blob, [0x21, u64s(5n, 6n)], [0x20, Buffer.alloc(0)]),
      [5, strings(sha256(third), sha256(revokedSubject), sha256(third))],
      [3, strings(createHash('sha1').update(revokedCaBlob).digest())],
    );
    const k = parseKrl(messy);
    expect(k.certificates).toEqual([
      { caPublicKeyBlob: Buffer.alloc(0), serialRanges: [], keyIds: ['alice'] },
      { caPublicKeyBlob: ca2Blob, serialRanges: [{ first: 4n, last: 6n }, { first: 9n, last: 9n }, { first: 20n, last: 20n }, { first: 22n, last: 22n }], keyIds: ['b', 'zz'] },
    ]);
    const path = ws.file(messy);
    const cases: [string, { caPublicKeyBlob: Buffer; serial: bigint; keyId: string }, string][] = [
      [cert(ca, 1n, 'alice'), { caPublicKeyBlob: caBlob, serial: 1n, keyId: 'alice' }, 'REVOKED'], // wildcard CA
      [cert(ca2, 5n, 'x'), { caPublicKeyBlob: ca2Blob, serial: 5n, keyId: 'x' }, 'REVOKED'],
      [cert(ca2, 21n, 'x'), { caPublicKeyBlob: ca2Blob, serial: 21n, keyId: 'x' }, 'ok'],
      [cert(ca2, 22n, 'x'), { caPublicKeyBlob: ca2Blob, serial: 22n, keyId: 'x' }, 'REVOKED'],
      [cert(revokedCa, 8n, 'x'), { caPublicKeyBlob: revokedCaBlob, serial: 8n, keyId: 'x' }, 'REVOKED'], // CA by SHA-1
      [cert(ca, 9n, 'x'), { caPublicKeyBlob: caBlob, serial: 9n, keyId: 'x' }, 'ok'],
    ];
    for (const [line, ref, verdict] of cases) {
      expect([ref.serial, query(path, line), isCertificateRevoked(k, ref) ? 'REVOKED' : 'ok']).toEqual([ref.serial, verdict, verdict]);
    }
    expect(query(path, plain(third))).toBe('REVOKED');
    expect(isKeyRevoked(k, third)).toBe(true);
  });

  // Each malformation: whether OpenSSH 9.2 also refuses to load the file (true), or only parseKrl is stricter (false).
  const malformed: [string, Buffer, RegExp, boolean][] = [
    ['a bad magic', Buffer.concat([Buffer.from('SSHKRL\n\x01', 'latin1'), krl().subarray(8)]), /bad magic/, true],
    ['format version 2', (() => { const b = krl(); b.writeUInt32BE(2, 8); return b; })(), /format version 2/, true],
    ['a truncated header', krl().subarray(0, 30), /truncated/, true],
    ['a truncated section', krl([5, strings(sha256(subject))]).subarray(0, -1), /truncated/, true],
    ['an unknown section', krl([6, Buffer.alloc(0)]), /section type 6/, true],
    ['an extension section (OpenSSH ≥ 9.4 skips a non-critical one)', krl([255, new SshWriter().string('x@mezite.dev').raw(Buffer.of(0)).string('').toBuffer()]), /section type 255/, true],
    ['a signature section', krl([4, new SshWriter().string(caBlob).toBuffer()]), /signatures are not supported/, true],
    ['a 31-byte SHA-256', krl([5, strings(Buffer.alloc(31))]), /32 bytes/, true],
    ['trailing data in a hash section', krl([5, Buffer.concat([strings(sha256(subject)), Buffer.of(0)])]), /truncated/, true],
    ['serial 0 in a list', krl(certSection(caBlob, [0x20, u64s(0n)])), /invalid serial range 0-0/, true],
    ['a range from 9 to 7', krl(certSection(caBlob, [0x21, u64s(9n, 7n)])), /invalid serial range 9-7/, true],
    ['a range from 0', krl(certSection(caBlob, [0x21, u64s(0n, 7n)])), /invalid serial range 0-7/, true],
    ['a range with trailing data', krl(certSection(caBlob, [0x21, u64s(1n, 7n, 8n)])), /trailing data/, true],
    ['a list with a partial serial', krl(certSection(caBlob, [0x20, Buffer.alloc(7, 1)])), /truncated/, true],
    ['a bitmap past 2^64-1', krl(certSection(caBlob, [0x22, new SshWriter().uint64(MAX - 1n).string(Buffer.of(0x04)).toBuffer()])), /wraps/, true],
    ['a bitmap revoking serial 0', krl(certSection(caBlob, [0x22, new SshWriter().uint64(0n).string(Buffer.of(0x03)).toBuffer()])), /invalid serial range 0-1/, true],
    ['a negative bitmap', krl(certSection(caBlob, [0x22, new SshWriter().uint64(1n).string(Buffer.of(0x80)).toBuffer()])), /negative mpint/, true],
    ['an unknown certificate subsection', krl(certSection(caBlob, [0x24, Buffer.alloc(0)])), /subsection type 36/, true],
    ['a CA key that is not a key', krl(certSection(Buffer.from('ssh-ed25519'), [0x23, ids('a')])), /unusable CA key/, true],
    ['a key id with NUL', krl(certSection(caBlob, [0x23, strings(Buffer.from('a\0b'))])), /NUL/, true],
    ['a comment with NUL', Buffer.concat([krl().subarray(0, -4), new SshWriter().string('a\0b').toBuffer()]), /NUL/, true],
    ['a key id that is not UTF-8', krl(certSection(caBlob, [0x23, strings(Buffer.of(0xff))])), /not UTF-8/, false],
  ];

  it.each(malformed)('parseKrl refuses %s, as ssh-keygen does when it says so', (_name, bytes, message, opensshRefuses) => {
    expect(() => parseKrl(bytes)).toThrow(expect.objectContaining({ code: 'InvalidArgument', message: expect.stringMatching(message) }));
    const verdict = query(ws.file(bytes), cert(ca, 5n, 'x'));
    if (opensshRefuses) expect(verdict).toMatch(/^error 255: /);
    else expect(verdict).toBe('ok');
  });

  it('ssh-keygen loads the well-formed control case of that table', () => {
    const control = krl(certSection(caBlob, [0x22, new SshWriter().uint64(4n).string(Buffer.of(0, 0x03)).toBuffer()]));
    expect(query(ws.file(control), cert(ca, 5n, 'x'))).toBe('REVOKED');
    expect(parseKrl(control).certificates[0]?.serialRanges).toEqual([{ first: 4n, last: 5n }]);
  });
});

describe('parseKrl on hostile input', () => {
  /** Returns whether it parsed; InvalidArgument is a refusal; anything else fails with the input. */
  function survives(bytes: Buffer): boolean {
    try {
      parseKrl(bytes);
      return true;
    } catch (err) {
      if (isMeziteError(err, 'InvalidArgument')) return false;
      throw new Error(`parseKrl threw ${String(err)} for ${bytes.toString('hex')}`);
    }
  }
  const rand = (n: number) => randomBytes(4).readUInt32BE(0) % n;

  it('never throws anything but InvalidArgument: random, prefixed, truncated and mutated KRLs', () => {
    const valid = [ours, krl(certSection(ca2Blob, [0x22, new SshWriter().uint64(4n).string(Buffer.of(0x1d)).toBuffer()], [0x21, u64s(1n, 2n)]))];
    let parsed = 0;
    for (let i = 0; i < 2000; i++) {
      const v = valid[i % valid.length] as Buffer;
      let input: Buffer;
      switch (i % 4) {
        case 0:
          input = randomBytes(rand(200));
          break;
        case 1:
          input = Buffer.concat([v.subarray(0, 12), randomBytes(rand(200))]);
          break;
        case 2:
          input = v.subarray(0, rand(v.length));
          break;
        default:
          input = Buffer.from(v);
          for (let n = 1 + rand(4); n > 0; n--) input[rand(input.length)] = rand(256);
      }
      if (survives(input)) parsed++;
    }
    // Some mutations land in key bytes or serials and still parse; most inputs are refused.
    expect(parsed).toBeGreaterThan(0);
    expect(parsed).toBeLessThan(1000);
  });

  it('refuses what is not a Buffer and KRLs over the size bound', () => {
    expect(() => parseKrl('SSHKRL' as unknown as Buffer)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => parseKrl(Buffer.alloc(64 * 1024 * 1024 + 1))).toThrow(/too large/);
  });
});

// Hand-built KRLs, so the tests do not depend on encodeKrl to make what it must reject.
type Section = [number, Buffer];
function krl(...sections: Section[]): Buffer {
  const w = new SshWriter().raw(Buffer.from('SSHKRL\n\0', 'latin1')).uint32(1).uint64(1n).uint64(0n).uint64(0n).string('').string('');
  for (const [type, body] of sections) w.raw(Buffer.of(type)).string(body);
  return Buffer.from(w.toBuffer());
}
function certSection(caKey: Buffer, ...subsections: Section[]): Section {
  const w = new SshWriter().string(caKey).string('');
  for (const [type, body] of subsections) w.raw(Buffer.of(type)).string(body);
  return [1, w.toBuffer()];
}
function u64s(...ns: bigint[]): Buffer {
  const w = new SshWriter();
  for (const n of ns) w.uint64(n);
  return w.toBuffer();
}
function strings(...bs: Buffer[]): Buffer {
  const w = new SshWriter();
  for (const b of bs) w.string(b);
  return w.toBuffer();
}
function ids(...s: string[]): Buffer {
  return strings(...s.map((x) => Buffer.from(x, 'utf8')));
}
