import * as fc from 'fast-check';
import { LEAK } from './stack-health';

/**
 * Generators of hostile input shared by the tests of the public port, and the oracle
 * every answer is judged by.
 */

/** Text a client may put in any string field: ASCII, any code point (lone surrogates too), graphemes, and the shapes our parsers look for. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 120 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', '\n', '\r\n', '\t', '%', '%%', '%zz', '+', '=', '&', ':', '::', '*', '..', '../../etc/passwd', "' OR 1=1 --", '${jndi:x}', '{{7*7}}', 'null', 'undefined', '__proto__', 'constructor', 'psk_', 'psk_live_', 'tok-bot-', 'mzs_', 'Bearer ', 'ssh-ed25519', 'ssh-ed25519 AAAA', 'x'.repeat(4096)),
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }).map((h) => `tok-bot-${h}`),
  fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'), minLength: 28, maxLength: 28 }).map((b) => `psk_live_${b}`),
);

/** Random bytes, for string fields that must also survive text that is not UTF-8. */
export const hostileBytes: fc.Arbitrary<Buffer> = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));

/** Text or raw bytes, as a Buffer to put in a protobuf string field. */
export const hostileField: fc.Arbitrary<Buffer> = fc.oneof(hostileText.map((s) => Buffer.from(s, 'utf8')), hostileBytes);

/** What a refusal may look like: its code is one of `allowed`, and its message leaks nothing. */
export function checkRefusal(what: string, reply: { code: number; details: string }, allowed: readonly number[]): void {
  if (!allowed.includes(reply.code)) throw new Error(`${what}: status ${reply.code} (${JSON.stringify(reply.details)}), expected one of ${allowed.join(', ')}`);
  if (LEAK.test(reply.details)) throw new Error(`${what}: the message leaks internals: ${JSON.stringify(reply.details)}`);
  if (reply.details.length > MESSAGE_CAP) throw new Error(`${what}: a ${reply.details.length}-character message (the cap is ${MESSAGE_CAP})`);
}

/** The cap on an error message a caller is sent (docs/SECURITY.md), written out so a raised constant fails the tests. */
export const MESSAGE_CAP = 500;

/**
 * Bounds for every property run against a live stack: a count and a time limit. A run the
 * time limit cuts short fails (assertAsyncProperty's floor is the count): a property that
 * did not run its cases has not passed.
 */
export const LIVE_RUNS = { numRuns: 120, interruptAfterTimeLimit: 30_000 } as const;
