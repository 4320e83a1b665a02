import { createHash } from 'node:crypto';
import { invalidArgument, isMeziteError } from '@mezite/identity';
import { parsePublicKeyBlob } from './public-key';
import { decodeText, SshReader } from './wire';

/** The wire constants of PROTOCOL.krl; `krl.ts` writes what this file reads. */
export const KRL_MAGIC = Buffer.from('SSHKRL\n\0', 'latin1');
export const KRL_FORMAT_VERSION = 1;
export const KRL_SECTION = { certificates: 1, explicitKey: 2, sha1: 3, signature: 4, sha256: 5 } as const;
export const KRL_CERT_SECTION = { serialList: 0x20, serialRange: 0x21, serialBitmap: 0x22, keyId: 0x23 } as const;

const UINT64_MAX = (1n << 64n) - 1n;
/** OpenSSH reads a bitmap as a bignum of at most 16384 bits. */
const MAX_BITMAP_BYTES = 16384 / 8;
/** KRLs larger than this are refused before parsing. */
export const MAX_KRL_BYTES = 64 * 1024 * 1024;
/** Most serial ranges, key ids, keys and hashes one parsed KRL may hold (bounds what bitmaps expand to). */
export const MAX_KRL_PARSED_ENTRIES = 2_000_000;

/** An inclusive range of revoked serials. */
export interface KrlSerialRange {
  first: bigint;
  last: bigint;
}

/** One CA's revocations as read: serials as sorted, merged ranges (a KRL may revoke 2^64 of them). */
export interface ParsedKrlCertificates {
  /** The CA's key blob; empty for a wildcard section, which applies to every CA. */
  caPublicKeyBlob: Buffer;
  serialRanges: KrlSerialRange[];
  /** Unique, sorted by their UTF-8 bytes as OpenSSH orders them. */
  keyIds: string[];
}

/** A KRL as read, normalised: sections for the same CA merged, every list sorted and unique. */
export interface ParsedKrl {
  version: bigint;
  /** Clamped to the largest Date when the KRL says later. */
  generatedAt: Date;
  comment: string;
  /** In order of first appearance, one entry per CA. */
  certificates: ParsedKrlCertificates[];
  /** Plain key blobs revoked whole (KRL_SECTION_EXPLICIT_KEY). */
  revokedKeys: Buffer[];
  revokedKeySha1: Buffer[];
  revokedKeySha256: Buffer[];
}

/** What identifies a certificate to a KRL; `subjectKeyBlob` (the plain certified key) is checked too when given. */
export interface KrlCertificateRef {
  caPublicKeyBlob: Buffer;
  serial: bigint;
  keyId: string;
  subjectKeyBlob?: Buffer;
}

/**
 * Reads a KRL and refuses whatever a supported OpenSSH refuses to load (krl.c
 * `ssh_krl_from_blob`, checked against 9.2 and read from current sources): a bad magic
 * or format version, an unknown section or subsection, trailing data in one, serial 0,
 * a range with first > last, a bitmap reaching past 2^64-1, a hash of the wrong length.
 * It also refuses extension sections (OpenSSH 9.2 does not know them), signature
 * sections (9.4 and later refuse them), text that is not UTF-8, and CA keys of types
 * this package does not read. Like OpenSSH it takes sections in any order, repeated,
 * unsorted and with duplicates, and normalises the result. Any malformation is
 * `InvalidArgument`, whatever the bytes.
 */
export function parseKrl(buf: Buffer): ParsedKrl {
  if (!Buffer.isBuffer(buf)) throw invalidArgument('a KRL must be a Buffer');
  if (buf.length > MAX_KRL_BYTES) throw invalidArgument('KRL is too large');
  if (buf.length < KRL_MAGIC.length || !buf.subarray(0, KRL_MAGIC.length).equals(KRL_MAGIC)) throw invalidArgument('not a KRL (bad magic)');
  const r = new SshReader(buf.subarray(KRL_MAGIC.length), 'KRL');
  const format = r.uint32();
  if (format !== KRL_FORMAT_VERSION) throw invalidArgument(`unsupported KRL format version ${format}`);
  const version = r.uint64();
  const generated = r.uint64();
  r.uint64(); // flags: none are defined, and OpenSSH ignores them
  r.string(); // reserved
  const comment = r.text();
  const acc = new Accumulator();
  while (r.remaining > 0) {
    const type = r.bytes(1)[0] as number;
    if (type === KRL_SECTION.signature) throw invalidArgument('KRL signatures are not supported');
    const body = new SshReader(r.string(), `KRL section ${type}`);
    if (type === KRL_SECTION.certificates) readCertificates(body, acc);
    else if (type === KRL_SECTION.explicitKey) while (body.remaining > 0) acc.add(acc.keys, body.string());
    else if (type === KRL_SECTION.sha1) readHashes(body, acc, acc.sha1, 20);
    else if (type === KRL_SECTION.sha256) readHashes(body, acc, acc.sha256, 32);
    else throw invalidArgument(`unsupported KRL section type ${type}`);
    body.end();
  }
  return {
    version,
    generatedAt: new Date(generated * 1000n >= 8_640_000_000_000_000n ? 8.64e15 : Number(generated) * 1000),
    comment,
    certificates: [...acc.cas.values()].map((c) => ({
      caPublicKeyBlob: c.blob,
      serialRanges: mergeRanges(c.ranges),
      keyIds: [...c.keyIds.entries()].sort((a, b) => Buffer.compare(a[1], b[1])).map(([id]) => id),
    })),
    revokedKeys: sortedValues(acc.keys),
    revokedKeySha1: sortedValues(acc.sha1),
    revokedKeySha256: sortedValues(acc.sha256),
  };
}

/**
 * True when the KRL revokes the certificate as `ssh-keygen -Q` and sshd judge it: by
 * key id, or by serial (never serial 0), under its CA or a wildcard section; or because
 * the CA key, or the certified key when `subjectKeyBlob` is given, is revoked as a key.
 */
export function isCertificateRevoked(krl: ParsedKrl, cert: KrlCertificateRef): boolean {
  if (isKeyRevoked(krl, cert.caPublicKeyBlob)) return true;
  if (cert.subjectKeyBlob && isKeyRevoked(krl, cert.subjectKeyBlob)) return true;
  return krl.certificates.some(
    (c) =>
      (c.caPublicKeyBlob.length === 0 || c.caPublicKeyBlob.equals(cert.caPublicKeyBlob)) &&
      (c.keyIds.includes(cert.keyId) || (cert.serial !== 0n && inRanges(c.serialRanges, cert.serial))),
  );
}

/** True when the KRL revokes this plain (non-certificate) key blob whole or by its SHA-1 or SHA-256. */
export function isKeyRevoked(krl: ParsedKrl, keyBlob: Buffer): boolean {
  const sha1 = createHash('sha1').update(keyBlob).digest();
  const sha256 = createHash('sha256').update(keyBlob).digest();
  return (
    krl.revokedKeys.some((k) => k.equals(keyBlob)) || krl.revokedKeySha1.some((h) => h.equals(sha1)) || krl.revokedKeySha256.some((h) => h.equals(sha256))
  );
}

/** Collects entries across sections, keyed by their bytes, counting them against the bound. */
class Accumulator {
  readonly cas = new Map<string, { blob: Buffer; ranges: KrlSerialRange[]; keyIds: Map<string, Buffer> }>();
  readonly keys = new Map<string, Buffer>();
  readonly sha1 = new Map<string, Buffer>();
  readonly sha256 = new Map<string, Buffer>();
  private entries = 0;

  count(): void {
    if (++this.entries > MAX_KRL_PARSED_ENTRIES) throw invalidArgument('KRL has too many entries');
  }

  add(set: Map<string, Buffer>, b: Buffer): void {
    this.count();
    set.set(b.toString('hex'), Buffer.from(b));
  }
}

/** `string ca_key, string reserved`, then typed subsections of serials and key ids. */
function readCertificates(r: SshReader, acc: Accumulator): void {
  const blob = r.string();
  r.string(); // reserved
  if (blob.length > 0) {
    try {
      parsePublicKeyBlob(blob);
    } catch (err) {
      if (!isMeziteError(err)) throw err;
      throw invalidArgument(`KRL certificate section has an unusable CA key: ${err.message}`, { cause: err });
    }
  }
  const key = blob.toString('hex');
  const ca = acc.cas.get(key) ?? { blob: Buffer.from(blob), ranges: [], keyIds: new Map<string, Buffer>() };
  acc.cas.set(key, ca);
  const revoke = (first: bigint, last: bigint): void => {
    if (first === 0n || first > last) throw invalidArgument(`KRL revokes an invalid serial range ${first}-${last}`);
    acc.count();
    ca.ranges.push({ first, last });
  };
  while (r.remaining > 0) {
    const type = r.bytes(1)[0] as number;
    const sub = new SshReader(r.string(), `KRL certificate subsection ${type}`);
    if (type === KRL_CERT_SECTION.serialList) {
      while (sub.remaining > 0) {
        const s = sub.uint64();
        revoke(s, s);
      }
    } else if (type === KRL_CERT_SECTION.serialRange) {
      revoke(sub.uint64(), sub.uint64());
    } else if (type === KRL_CERT_SECTION.serialBitmap) {
      readBitmap(sub, revoke);
    } else if (type === KRL_CERT_SECTION.keyId) {
      while (sub.remaining > 0) {
        const id = sub.string();
        acc.count();
        ca.keyIds.set(decodeText(id, 'KRL key id'), Buffer.from(id));
      }
    } else {
      throw invalidArgument(`unsupported KRL certificate subsection type ${type}`);
    }
    sub.end();
  }
}

/** `uint64 offset, mpint bitmap`: bit N revokes serial offset+N; handed on as runs of set bits. */
function readBitmap(r: SshReader, revoke: (first: bigint, last: bigint) => void): void {
  const offset = r.uint64();
  const bits = r.unsignedMpint({ minimal: false });
  if (bits.length > MAX_BITMAP_BYTES) throw invalidArgument('KRL serial bitmap is too large');
  if (bits.length === 0) return;
  const nbits = bits.length * 8 - (Math.clz32(bits[0] as number) - 24);
  // OpenSSH refuses a bitmap whose span passes 2^64-1, whichever bits are set.
  if (offset + BigInt(nbits) - 1n > UINT64_MAX) throw invalidArgument('KRL serial bitmap wraps past 2^64-1');
  let runStart = -1;
  for (let n = 0; n <= nbits; n++) {
    const set = n < nbits && (((bits[bits.length - 1 - (n >> 3)] as number) >> (n & 7)) & 1) === 1;
    if (set && runStart < 0) runStart = n;
    if (!set && runStart >= 0) {
      revoke(offset + BigInt(runStart), offset + BigInt(n - 1));
      runStart = -1;
    }
  }
}

function readHashes(r: SshReader, acc: Accumulator, set: Map<string, Buffer>, length: number): void {
  while (r.remaining > 0) {
    const h = r.string();
    if (h.length !== length) throw invalidArgument(`KRL key hash must be ${length} bytes`);
    acc.add(set, h);
  }
}

function mergeRanges(ranges: readonly KrlSerialRange[]): KrlSerialRange[] {
  const sorted = [...ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: KrlSerialRange[] = [];
  for (const { first, last } of sorted) {
    const prev = out[out.length - 1];
    if (prev && first <= prev.last + 1n) prev.last = last > prev.last ? last : prev.last;
    else out.push({ first, last });
  }
  return out;
}

function sortedValues(set: Map<string, Buffer>): Buffer[] {
  return [...set.values()].sort(Buffer.compare);
}

function inRanges(ranges: readonly KrlSerialRange[], serial: bigint): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid] as KrlSerialRange;
    if (serial < r.first) hi = mid - 1;
    else if (serial > r.last) lo = mid + 1;
    else return true;
  }
  return false;
}
