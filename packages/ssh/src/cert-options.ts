import { invalidArgument } from '@mezite/identity';
import { decodeText, SshReader, SshWriter } from './wire';

/**
 * Critical options and extensions of a certificate (PROTOCOL.certkeys): a sequence of
 * `string name, string data`, sorted by name, each name once. `data` is empty for a
 * flag (`permit-pty`) and otherwise is itself a `string` holding the value — so
 * `force-command=/bin/true` is name, then uint32 13, uint32 9, "/bin/true". Sorting is by
 * the bytes of the name (OpenSSH compares with strcmp), not by locale.
 */
export type CertOptions = Record<string, string>;

/** Encodes options for a certificate; names and values may not hold control characters. */
export function encodeCertOptions(options: CertOptions | undefined, what: string): Buffer {
  const w = new SshWriter();
  const names = Object.keys(options ?? {});
  // Names are checked to be ASCII, where UTF-16 order (JS `<`) is byte order (strcmp).
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const value = (options as CertOptions)[name];
    if (typeof value !== 'string') throw invalidArgument(`${what} ${JSON.stringify(name)} must have a string value`);
    if (!/^[\x21-\x7e]+$/.test(name)) throw invalidArgument(`${what} name ${JSON.stringify(name)} must be printable ASCII`);
    if (/[\0-\x1f\x7f]/.test(value)) throw invalidArgument(`${what} ${name} has a control character in its value`);
    w.string(name);
    if (value === '') w.uint32(0);
    else w.uint32(4 + Buffer.byteLength(value, 'utf8')).string(value);
  }
  return w.toBuffer();
}

/**
 * Decodes the options field of a certificate. Unsorted or repeated names, and data
 * that is neither empty nor exactly one UTF-8 string, are `InvalidArgument`.
 */
export function decodeCertOptions(field: Buffer, what: string): CertOptions {
  const r = new SshReader(field, what);
  const entries: [string, string][] = [];
  let previous: Buffer | undefined;
  while (r.remaining > 0) {
    const nameBytes = r.string();
    const name = decodeText(nameBytes, what);
    if (previous && Buffer.compare(previous, nameBytes) >= 0) throw invalidArgument(`${what} are not sorted or repeat a name`);
    previous = nameBytes;
    const data = r.string();
    let value = '';
    if (data.length > 0) {
      const inner = new SshReader(data, `${what} ${name}`);
      value = inner.text();
      inner.end();
    }
    entries.push([name, value]);
  }
  // fromEntries defines own properties, so a name like "__proto__" cannot touch a prototype.
  return Object.fromEntries(entries);
}
