/**
 * Just enough of the protobuf wire format to write messages a generated encoder never
 * would: strings that are not UTF-8, repeated singular fields, unknown fields, a
 * known field number with the wrong wire type, int64 values outside JavaScript's safe
 * range. Fields are written in the order given.
 */
export type WireField =
  | { n: number; varint: bigint }
  | { n: number; bytes: Buffer }
  | { n: number; fixed64: Buffer }
  | { n: number; fixed32: Buffer };

/** A varint of an unsigned 64-bit value (negative int64 values are passed as their two's complement). */
export function varint(v: bigint): Buffer {
  let x = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return Buffer.from(out);
}

/** Encodes the fields as one message. */
export function message(fields: readonly WireField[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    if ('varint' in f) parts.push(varint(BigInt(f.n << 3)), varint(f.varint));
    else if ('bytes' in f) parts.push(varint(BigInt((f.n << 3) | 2)), varint(BigInt(f.bytes.length)), f.bytes);
    else if ('fixed64' in f) parts.push(varint(BigInt((f.n << 3) | 1)), f.fixed64.subarray(0, 8));
    else parts.push(varint(BigInt((f.n << 3) | 5)), f.fixed32.subarray(0, 4));
  }
  return Buffer.concat(parts);
}

/** A string (or bytes) field. */
export const str = (n: number, s: string | Buffer): WireField => ({ n, bytes: Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8') });
/** An int64/uint64/bool/enum field. */
export const int = (n: number, v: bigint | number): WireField => ({ n, varint: BigInt(v) });
