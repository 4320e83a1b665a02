import { invalidArgument } from './errors';

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Validates a resource name (bot, role, node): lower-case letters, digits and `-`,
 * 1 to 63 characters, starting and ending with a letter or digit (a DNS label, so
 * names can appear in certificates and hostnames).
 */
export function validateName(kind: string, name: string): string {
  if (!NAME.test(name)) {
    throw invalidArgument(
      `invalid ${kind} name "${name}": use 1 to 63 lower-case letters, digits and '-', starting and ending with a letter or digit`,
    );
  }
  return name;
}

/** `s` with everything but printable ASCII dropped, trimmed and cut to `max` characters (a caller's user agent or address, before it is stored or shown). */
export function printable(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, '').trim().slice(0, max);
}
