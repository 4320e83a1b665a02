import { invalidArgument } from '@mezite/identity';
import { KRL_CERT_SECTION, KRL_FORMAT_VERSION, KRL_MAGIC, KRL_SECTION } from './parse-krl';
import { parsePublicKeyBlob } from './public-key';
import { SshWriter } from './wire';

export {
  isCertificateRevoked,
  isKeyRevoked,
  type KrlCertificateRef,
  type KrlSerialRange,
  MAX_KRL_BYTES,
  type ParsedKrl,
  type ParsedKrlCertificates,
  parseKrl,
} from './parse-krl';

/**
 * OpenSSH Key Revocation Lists (PROTOCOL.krl), the files sshd's `RevokedKeys` and
 * `ssh-keygen -Q` read. sshd refuses every key when it cannot load the file, so the
 * encoder refuses what stock OpenSSH would not load (serial 0, a NUL in text, a CA blob
 * that is not a key) instead of writing it. No signatures: OpenSSH 9.4 and later refuse
 * signed KRLs, and ours travel over authenticated channels.
 */

const UINT64_MAX = (1n << 64n) - 1n;

/** What one CA's certificates are revoked by. */
export interface KrlCertificateRevocations {
  /** The CA's plain public key blob. */
  caPublicKeyBlob: Buffer;
  /** Serials in [1, 2^64); OpenSSH cannot revoke serial 0 by serial (use the key id). */
  serials?: readonly bigint[];
  keyIds?: readonly string[];
}

/** The content of a KRL to encode; order and duplicates in the lists do not matter. */
export interface KrlInput {
  /** `krl_version`: must increase with every KRL published. */
  version: bigint;
  /** `generated_date`, truncated to whole seconds. */
  generatedAt: Date;
  comment?: string;
  /** One KRL_SECTION_CERTIFICATES per CA; entries naming the same CA are merged, empty ones left out. */
  certificates: readonly KrlCertificateRevocations[];
  /** SHA-256 digests (32 bytes) of plain public key blobs (KRL_SECTION_FINGERPRINT_SHA256). */
  revokedKeySha256?: readonly Buffer[];
}

/**
 * Encodes a KRL: the header, then per CA one serial list (runs of three or more
 * consecutive serials as range subsections instead) and one key id subsection, then
 * the SHA-256 section. Lists are sorted and unique in the order OpenSSH keeps them, so
 * the same content always gives the same bytes. A KRL revoking nothing is valid.
 */
export function encodeKrl(input: KrlInput): Buffer {
  const seconds = input.generatedAt instanceof Date ? Math.floor(input.generatedAt.getTime() / 1000) : NaN;
  if (!Number.isFinite(seconds) || seconds < 0) throw invalidArgument('KRL generatedAt must be a Date at or after 1970');
  const w = new SshWriter(1024).raw(KRL_MAGIC).uint32(KRL_FORMAT_VERSION).uint64(input.version).uint64(BigInt(seconds));
  w.uint64(0n).string(Buffer.alloc(0)).string(checkText(input.comment ?? '', 'KRL comment'));
  for (const ca of mergeByCa(input.certificates)) {
    const section = new SshWriter().string(ca.blob).string(Buffer.alloc(0));
    writeSerials(section, [...ca.serials].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const ids = [...ca.keyIds].map((id) => Buffer.from(id, 'utf8')).sort(Buffer.compare);
    if (ids.length > 0) section.raw(Buffer.of(KRL_CERT_SECTION.keyId)).string(stringList(ids));
    w.raw(Buffer.of(KRL_SECTION.certificates)).string(section.toBuffer());
  }
  const hashes = input.revokedKeySha256 ?? [];
  for (const h of hashes) if (!Buffer.isBuffer(h) || h.length !== 32) throw invalidArgument('a revoked key SHA-256 must be 32 bytes');
  if (hashes.length > 0) w.raw(Buffer.of(KRL_SECTION.sha256)).string(stringList(uniqueSorted(hashes)));
  return Buffer.from(w.toBuffer());
}

type CaEntry = { blob: Buffer; serials: Set<bigint>; keyIds: Set<string> };

function mergeByCa(certs: readonly KrlCertificateRevocations[]): CaEntry[] {
  const byCa = new Map<string, CaEntry>();
  for (const c of certs) {
    if (!Buffer.isBuffer(c.caPublicKeyBlob)) throw invalidArgument('a KRL CA key must be a key blob');
    parsePublicKeyBlob(c.caPublicKeyBlob); // OpenSSH refuses the whole KRL when a CA blob is not a key
    const key = c.caPublicKeyBlob.toString('hex');
    const entry = byCa.get(key) ?? { blob: c.caPublicKeyBlob, serials: new Set(), keyIds: new Set() };
    for (const s of c.serials ?? []) {
      if (typeof s !== 'bigint' || s < 1n || s > UINT64_MAX) {
        throw invalidArgument(`KRL serial ${String(s)} is outside 1 .. 2^64-1 (OpenSSH cannot revoke serial 0)`);
      }
      entry.serials.add(s);
    }
    for (const id of c.keyIds ?? []) entry.keyIds.add(checkText(id, 'KRL key id'));
    byCa.set(key, entry);
  }
  return [...byCa.values()].filter((e) => e.serials.size > 0 || e.keyIds.size > 0);
}

/** Sorted serials: a range subsection per run of three or more, one list subsection of the rest. */
function writeSerials(section: SshWriter, serials: readonly bigint[]): void {
  const singles = new SshWriter();
  let listed = 0;
  for (let i = 0; i < serials.length; ) {
    let j = i;
    while (j + 1 < serials.length && serials[j + 1] === (serials[j] as bigint) + 1n) j++;
    if (j - i >= 2) {
      const range = new SshWriter(16).uint64(serials[i] as bigint).uint64(serials[j] as bigint);
      section.raw(Buffer.of(KRL_CERT_SECTION.serialRange)).string(range.toBuffer());
    } else {
      for (let k = i; k <= j; k++) singles.uint64(serials[k] as bigint);
      listed += j - i + 1;
    }
    i = j + 1;
  }
  if (listed > 0) section.raw(Buffer.of(KRL_CERT_SECTION.serialList)).string(singles.toBuffer());
}

/** Text OpenSSH reads as a C string: no NUL, and well-formed so that its UTF-8 round-trips. */
function checkText(s: string, what: string): string {
  if (typeof s !== 'string') throw invalidArgument(`${what} must be a string`);
  if (s.includes('\0')) throw invalidArgument(`${what} must not contain NUL`);
  if (Buffer.from(s, 'utf8').toString('utf8') !== s) throw invalidArgument(`${what} is not well-formed Unicode`);
  return s;
}

function stringList(items: readonly Buffer[]): Buffer {
  const w = new SshWriter();
  for (const b of items) w.string(b);
  return w.toBuffer();
}

function uniqueSorted(items: readonly Buffer[]): Buffer[] {
  const sorted = [...items].sort(Buffer.compare);
  return sorted.filter((b, i) => i === 0 || !b.equals(sorted[i - 1] as Buffer));
}
