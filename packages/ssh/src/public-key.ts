import { hash, type KeyObject } from 'node:crypto';
import { invalidArgument } from '@mezite/identity';
import { isSshKeyType, type KeyLoader, readKeyBody, type SshKeyType, writeKeyBlob } from './key-body';
import { SshReader, SshWriter } from './wire';

export { type SshKeyType, isSshKeyType } from './key-body';

/** A public key as OpenSSH writes it, with the Node KeyObject to verify or encrypt with. */
export interface SshPublicKey {
  type: SshKeyType;
  /** The wire blob (what the base64 of a key line decodes to); fingerprints hash this. */
  blob: Buffer;
  /**
   * The Node key, imported the first time it is read (a parsed key was already checked,
   * so reading it does not throw): certifying a key or hashing its fingerprint needs
   * only `blob`, and an import costs more than a signature.
   */
  readonly key: KeyObject;
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
  const load = readKeyBody(r, type);
  r.end();
  return sshPublicKey(type, blob, comment, load);
}

/** A key whose KeyObject is made by `load` when first read (see SshPublicKey.key). */
export function sshPublicKey(type: SshKeyType, blob: Buffer, comment: string, load: KeyLoader): SshPublicKey {
  // An own enumerable getter (a literal's: cheaper than defineProperty), so a spread
  // copy or toEqual still sees `key`.
  return {
    type,
    blob,
    comment,
    get key() {
      return load();
    },
  };
}

/** CA keys imported while checking certificates, by blob (base64). */
const caKeys = new Map<string, { type: SshKeyType; key: KeyObject }>();
/** More distinct signature keys than this means garbage: start over rather than grow. */
const MAX_CA_KEYS = 64;

/**
 * Parses the signature key of a certificate. Certificates are signed by a handful of
 * CAs, so the KeyObject a verification imports is kept by blob, and every later
 * certificate of the same CA is parsed and verified without checking or importing its
 * key again (the blob is the same bytes that were checked the first time).
 */
export function parseCaKeyBlob(blob: Buffer): SshPublicKey {
  const id = blob.toString('base64');
  const hit = caKeys.get(id);
  if (hit) return sshPublicKey(hit.type, blob, '', () => hit.key);
  const r = new SshReader(blob, 'public key');
  const type = r.text();
  if (!isSshKeyType(type)) throw invalidArgument(unsupportedType(type));
  const load = readKeyBody(r, type);
  r.end();
  return sshPublicKey(type, blob, '', () => {
    const key = load();
    if (caKeys.size >= MAX_CA_KEYS) caKeys.clear();
    caKeys.set(id, { type, key });
    return key;
  });
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
  return `SHA256:${hash('sha256', blob, 'base64').replace(/=+$/, '')}`;
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
  // `s`: a comment may hold U+2028/U+2029, which `.` alone does not match (\r, \n and NUL are refused above).
  const m = /^(\S+)[ \t]+(\S+)(?:[ \t]+(.*))?$/s.exec(one.trim());
  if (!m) throw invalidArgument('a key line must be "<type> <base64> [comment]"');
  const [, type = '', b64 = '', comment = ''] = m;
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || !unusedBitsClear(b64)) throw invalidArgument('key line has malformed base64');
  return { type, blob: Buffer.from(b64, 'base64'), comment };
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * For text already made of the alphabet and whole padded quads: it is the canonical
 * encoding of its bytes (what re-encoding would give) exactly when the bits of the last
 * character that padding leaves unused are zero — without re-encoding a kilobyte.
 */
function unusedBitsClear(b64: string): boolean {
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  if (pad === 0) return true;
  const last = BASE64.indexOf(b64.charAt(b64.length - 1 - pad));
  return (last & (pad === 1 ? 0b11 : 0b1111)) === 0;
}

function unsupportedType(type: string): string {
  if (type === 'ssh-dss') return 'DSA keys are not supported';
  return `unsupported key type ${JSON.stringify(type.slice(0, 64))}`;
}
