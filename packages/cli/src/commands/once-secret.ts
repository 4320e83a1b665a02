import { rfc3339 } from '../output';

/** The line above every secret the CLI shows once (seed 000, step 5), word for word. */
export const ONCE_BANNER = '# WARNING: this is the only time this plaintext will be displayed';

/** Width of `label:` and its padding in the lines under a secret (seed 000: `rotation_deadline:  `). */
const LABEL_WIDTH = 20;

/**
 * `label: value` lines with the values aligned at column 21, as seed 000's rotate
 * output shows them; an empty value prints `-`, as table cells do.
 */
export function fieldLines(fields: Array<[string, string | undefined]>): string {
  return fields.map(([label, value]) => `${`${label}:`.padEnd(LABEL_WIDTH)}${value || '-'}\n`).join('');
}

/**
 * A secret shown once: the banner, the plaintext alone on its line (so a script can
 * take the line below the banner), a blank line, then its metadata.
 */
export function onceSecret(plaintext: string, fields: Array<[string, string | undefined]>): string {
  return `${ONCE_BANNER}\n${plaintext}\n\n${fieldLines(fields)}`;
}

/** A time for JSON output: RFC 3339 without fractional seconds, or null when unset. */
export function jsonTime(d: Date | undefined): string | null {
  return d ? rfc3339(d) : null;
}
