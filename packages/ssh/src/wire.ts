import { invalidArgument } from '@mezite/identity';

/**
 * SSH wire encoding (RFC 4251 §5) for keys, certificates and signatures.
 *
 * Everything we parse may come from a caller (a public key in a request, a certificate
 * presented for renewal), so the reader checks every length against what is left
 * before touching the buffer and reports any problem as `InvalidArgument`, never as a
 * `RangeError`. A hostile length can never make it allocate or loop: a string is a view
 * of the input, and every read consumes input.
 */

/** Largest mpint we read or write: 16384 bits plus a sign byte, OpenSSH's own bound. */
export const MAX_MPINT_BYTES = 16384 / 8 + 1;

const UINT64_MAX = (1n << 64n) - 1n;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads SSH wire values from a buffer, front to back; `what` names it in errors. */
export class SshReader {
  private offset = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly what = 'SSH data',
  ) {}

  /** Bytes consumed so far: callers slice the signed part of a certificate with it. */
  get position(): number {
    return this.offset;
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.buf.length - this.offset;
  }

  /** The next `n` bytes, as a view of the input (no copy). */
  bytes(n: number): Buffer {
    if (n > this.remaining) throw invalidArgument(`${this.what} is truncated`);
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** A uint32, as a number in [0, 2^32). */
  uint32(): number {
    return this.bytes(4).readUInt32BE(0);
  }

  /** A uint64, as a bigint in [0, 2^64). */
  uint64(): bigint {
    return this.bytes(8).readBigUInt64BE(0);
  }

  /** A `string`: uint32 length then that many bytes, returned as a view of the input. */
  string(): Buffer {
    const n = this.uint32();
    if (n > this.remaining) throw invalidArgument(`${this.what} is truncated or has an oversized length`);
    return this.bytes(n);
  }

  /** A `string` holding UTF-8 text without NUL (OpenSSH reads these as C strings). */
  text(): string {
    return decodeText(this.string(), this.what);
  }

  /** An `mpint` (two's complement, big-endian) as a bigint; leading zeros tolerated. */
  mpint(): bigint {
    const b = this.string();
    if (b.length > MAX_MPINT_BYTES) throw invalidArgument(`${this.what} has an oversized mpint`);
    if (b.length === 0) return 0n;
    const magnitude = BigInt(`0x${b.toString('hex')}`);
    return (b[0] as number) & 0x80 ? magnitude - (1n << BigInt(b.length * 8)) : magnitude;
  }

  /**
   * A non-negative `mpint` as its big-endian magnitude without leading zero bytes. Only
   * the minimal encoding (RFC 4251 §5) is accepted: a leading zero byte is allowed only
   * before a byte with the high bit set, so one key has one blob and one fingerprint
   * (`minimal: false` reads what OpenSSH's KRL reader tolerates, e.g. bitmaps).
   */
  unsignedMpint(opts: { minimal?: boolean } = {}): Buffer {
    const b = this.string();
    if (b.length > MAX_MPINT_BYTES) throw invalidArgument(`${this.what} has an oversized mpint`);
    if (b.length > 0 && (b[0] as number) & 0x80) throw invalidArgument(`${this.what} has a negative mpint`);
    if (opts.minimal !== false && b.length > 0 && b[0] === 0 && (b.length === 1 || !((b[1] as number) & 0x80))) throw invalidArgument(`${this.what} has a non-minimal mpint`);
    let i = 0;
    while (i < b.length && b[i] === 0) i++;
    return b.subarray(i);
  }

  /** A `name-list`: comma-separated, non-empty printable US-ASCII names. */
  nameList(): string[] {
    const b = this.string();
    if (b.length === 0) return [];
    const names = b.toString('latin1').split(',');
    for (const name of names) {
      if (!/^[\x21-\x7e]+$/.test(name)) throw invalidArgument(`${this.what} has a malformed name-list`);
    }
    return names;
  }

  /** Asserts the whole input was read: trailing bytes make the value malformed. */
  end(): void {
    if (this.remaining !== 0) throw invalidArgument(`${this.what} has trailing data`);
  }
}

/** Decodes strict UTF-8 without NUL, the rule for key ids, principals and option names. */
export function decodeText(b: Buffer, what: string): string {
  let s: string;
  try {
    s = utf8.decode(b);
  } catch {
    throw invalidArgument(`${what} has text that is not UTF-8`);
  }
  if (s.includes('\0')) throw invalidArgument(`${what} has text containing NUL`);
  return s;
}

/**
 * Builds SSH wire data into one growing buffer (a certificate is built per request, so
 * it avoids a small allocation per field); each method validates its value and
 * returns `this`.
 */
export class SshWriter {
  private buf: Buffer;
  private length = 0;

  constructor(sizeHint = 256) {
    this.buf = Buffer.allocUnsafe(sizeHint);
  }

  /** A uint32 from an integer in [0, 2^32). */
  uint32(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw invalidArgument(`uint32 out of range: ${n}`);
    this.reserve(4).writeUInt32BE(n, this.length);
    this.length += 4;
    return this;
  }

  /** A uint64 from a bigint in [0, 2^64). */
  uint64(n: bigint): this {
    if (typeof n !== 'bigint' || n < 0n || n > UINT64_MAX) throw invalidArgument(`uint64 out of range: ${n}`);
    this.reserve(8).writeBigUInt64BE(n, this.length);
    this.length += 8;
    return this;
  }

  /** A `string`; text is written as UTF-8. */
  string(value: Buffer | string): this {
    if (typeof value !== 'string') return this.uint32(value.length).raw(value);
    const n = Buffer.byteLength(value, 'utf8');
    this.uint32(n);
    this.reserve(n).write(value, this.length, 'utf8');
    this.length += n;
    return this;
  }

  /** An `mpint` from any bigint, minimally encoded as RFC 4251 requires. */
  mpint(n: bigint): this {
    return this.string(mpintBytes(n));
  }

  /** An `mpint` from a non-negative big-endian magnitude (as JWK and IEEE P1363 give it). */
  unsignedMpint(magnitude: Buffer): this {
    let i = 0;
    while (i < magnitude.length && magnitude[i] === 0) i++;
    const m = magnitude.subarray(i);
    if (m.length > 0 && (m[0] as number) & 0x80) return this.uint32(m.length + 1).raw(Buffer.of(0)).raw(m);
    return this.string(m);
  }

  /** A `name-list`; each name must be non-empty printable US-ASCII without a comma. */
  nameList(names: readonly string[]): this {
    for (const name of names) {
      if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(name)) throw invalidArgument(`invalid name in name-list: ${JSON.stringify(name)}`);
    }
    return this.string(names.join(','));
  }

  /** Bytes appended as they are (already-encoded wire data). */
  raw(b: Buffer): this {
    b.copy(this.reserve(b.length), this.length);
    this.length += b.length;
    return this;
  }

  /**
   * The bytes written so far, as a view: writing more may move them to a larger buffer,
   * so a view taken before more writes must be used before those writes (or not at all).
   */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** The buffer, grown so that `n` more bytes fit. */
  private reserve(n: number): Buffer {
    if (this.length + n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    return this.buf;
  }
}

/** The minimal two's-complement bytes of `n` (empty for zero), per RFC 4251 §5. */
export function mpintBytes(n: bigint): Buffer {
  if (n === 0n) return Buffer.alloc(0);
  // Two's complement needs the magnitude bits plus a clear sign bit: -n-1 for negatives.
  const len = signedByteLength(n > 0n ? n : -n - 1n);
  if (len > MAX_MPINT_BYTES) throw invalidArgument('mpint is too large');
  const v = n < 0n ? (1n << BigInt(len * 8)) + n : n;
  return Buffer.from(v.toString(16).padStart(len * 2, '0'), 'hex');
}

/** Bytes holding non-negative `u` with its top bit clear. */
function signedByteLength(u: bigint): number {
  if (u === 0n) return 1;
  const hex = u.toString(16);
  const len = Math.ceil(hex.length / 2);
  const topNibble = parseInt(hex[0] as string, 16);
  return hex.length % 2 === 0 && topNibble >= 8 ? len + 1 : len;
}
