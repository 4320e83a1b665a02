import { createHash, type KeyObject } from 'node:crypto';
import { invalidArgument } from '@mezite/identity';
import { isSshKeyType, readKeyBody, type SshKeyType, writeKeyBlob } from './key-body';
import { SshReader, SshWriter } from './wire';

export { type SshKeyType, isSshKeyType } from './key-body';

/** A public key as OpenSSH writes it, with the Node KeyObject to verify or encrypt with. */
export interface SshPublicKey {
  type: SshKeyType;
  /** The wire blob (what the base64 of a key line decodes to); fingerprints hash this. */
  blob: Buffer;
  key: KeyObject;
  /** The free text after the blob in a key line; empty when there is none. */
  comment: string;
}

/** Key lines longer than this are refused before decoding (OpenSSH's own limit is 16 KiB). */
export const MAX_KEY_LINE_LENGTH = 16 * 1024;

/**
 * Parses one `authorized_keys`-style line, `<type> <base64> [comment]`, without options.
 * The type before the blob must equal the one inside it, the base64 must be canonical
 * and the blob must hold exactly one key: anything else is `InvalidArgument`, so a key
 * we accept is one OpenSSH reads the same way.
 */
export function parsePublicKey(line: string): SshPublicKey {
  const { type, blob, comment } = splitKeyLine(line, MAX_KEY_LINE_LENGTH);
  if (!isSshKeyType(type)) throw invalidArgument(unsupportedType(type));
  const key = parsePublicKeyBlob(blob, comment);
  if (key.type !== type) throw invalidArgument(`key line says ${type} but its blob holds ${key.type}`);
  return key;
}

/** Parses a key blob (the decoded base64 of a key line); `comment` is carried along. */
export function parsePublicKeyBlob(blob: Buffer, comment = ''): SshPublicKey {
  const r = new SshReader(blob, 'public key');
  const type = r.text();
  if (!isSshKeyType(type)) throw invalidArgument(unsupportedType(type));
  const key = readKeyBody(r, type);
  r.end();
  return { type, blob, key, comment };
}

/** The wire blob of a Node key (ed25519, EC P-256/384/521, RSA ≥ 2048); a private key gives its public half. */
export function encodePublicKey(key: KeyObject): Buffer {
  const w = new SshWriter();
  writeKeyBlob(w, key);
  return w.toBuffer();
}

/** The one-line OpenSSH form `<type> <base64> [comment]` of a key or key blob. */
export function formatPublicKey(key: KeyObject | Buffer, comment = ''): string {
  const blob = Buffer.isBuffer(key) ? key : encodePublicKey(key);
  const type = new SshReader(blob, 'public key').text();
  return joinKeyLine(type, blob, comment);
}

/** `SHA256:<base64 without padding>` of a key blob, exactly as `ssh-keygen -l` prints it. */
export function fingerprintSha256(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Joins a key line; a comment with a line break would split the file, so it is refused. */
export function joinKeyLine(type: string, blob: Buffer, comment: string): string {
  if (/[\r\n\0]/.test(comment)) throw invalidArgument('a key comment must be one line');
  const head = `${type} ${blob.toString('base64')}`;
  return comment === '' ? head : `${head} ${comment}`;
}

/** The parts of a key line; the base64 must be canonical (Node's decoder skips junk silently). */
export function splitKeyLine(line: string, maxLength: number): { type: string; blob: Buffer; comment: string } {
  if (typeof line !== 'string') throw invalidArgument('a key line must be a string');
  if (line.length > maxLength) throw invalidArgument('key line is too long');
  const one = line.replace(/\r?\n$/, '');
  if (/[\r\n\0]/.test(one)) throw invalidArgument('a key line must be one line');
  const m = /^(\S+)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(one.trim());
  if (!m) throw invalidArgument('a key line must be "<type> <base64> [comment]"');
  const [, type = '', b64 = '', comment = ''] = m;
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw invalidArgument('key line has malformed base64');
  const blob = Buffer.from(b64, 'base64');
  if (blob.toString('base64') !== b64) throw invalidArgument('key line has malformed base64');
  return { type, blob, comment };
}

function unsupportedType(type: string): string {
  if (type === 'ssh-dss') return 'DSA keys are not supported';
  return `unsupported key type ${JSON.stringify(type.slice(0, 64))}`;
}
