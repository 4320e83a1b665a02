import { createPrivateKey, type KeyObject } from 'node:crypto';
import { invalidArgument } from '@mezite/identity';
import { SshReader } from './wire';

const MAGIC = Buffer.from('openssh-key-v1\0');
const CURVES: Record<string, { crv: string; size: number }> = {
  nistp256: { crv: 'P-256', size: 32 },
  nistp384: { crv: 'P-384', size: 48 },
  nistp521: { crv: 'P-521', size: 66 },
};

/**
 * Reads a private key as ssh-keygen writes it — the `openssh-key-v1` format
 * (PROTOCOL.key) of host keys in /etc/ssh, unencrypted — or a PEM/PKCS#8 key, into a
 * Node KeyObject. Ed25519 and ECDSA only (what Mezite signs with); an encrypted key
 * is refused with a clear message, since a daemon cannot prompt for its passphrase.
 */
export function parsePrivateKey(text: string, what = 'private key'): KeyObject {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (!m) {
    try {
      return createPrivateKey(text);
    } catch {
      throw invalidArgument(`${what} is not an OpenSSH or PEM private key`);
    }
  }
  const buf = Buffer.from((m[1] as string).replace(/\s+/g, ''), 'base64');
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw invalidArgument(`${what} is not an openssh-key-v1 key`);
  const r = new SshReader(buf.subarray(MAGIC.length), what);
  const cipher = r.text();
  const kdf = r.text();
  r.string();
  if (cipher !== 'none' || kdf !== 'none') throw invalidArgument(`${what} is encrypted with a passphrase; mezd needs an unencrypted key (host keys are)`);
  if (r.uint32() !== 1) throw invalidArgument(`${what} must hold exactly one key`);
  r.string(); // public key blob, repeated inside the private section
  const p = new SshReader(r.string(), what);
  if (p.uint32() !== p.uint32()) throw invalidArgument(`${what} is damaged (check bytes differ)`);
  const type = p.text();
  if (type === 'ssh-ed25519') {
    const pub = p.string();
    const priv = p.string();
    if (pub.length !== 32 || priv.length !== 64) throw invalidArgument(`${what}: malformed Ed25519 key`);
    return createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: priv.subarray(0, 32).toString('base64url'), x: pub.toString('base64url') }, format: 'jwk' });
  }
  const ec = /^ecdsa-sha2-(nistp256|nistp384|nistp521)$/.exec(type);
  if (ec) {
    const curve = CURVES[ec[1] as string] as { crv: string; size: number };
    if (p.text() !== ec[1]) throw invalidArgument(`${what}: the curve does not match the key type`);
    const q = p.string();
    const d = p.unsignedMpint();
    if (q.length !== 1 + 2 * curve.size || q[0] !== 4 || d.length > curve.size) throw invalidArgument(`${what}: malformed ECDSA key`);
    const pad = (b: Buffer) => Buffer.concat([Buffer.alloc(curve.size - b.length), b]).toString('base64url');
    return createPrivateKey({ key: { kty: 'EC', crv: curve.crv, x: pad(q.subarray(1, 1 + curve.size)), y: pad(q.subarray(1 + curve.size)), d: pad(d) }, format: 'jwk' });
  }
  throw invalidArgument(`${what}: ${type} keys are not supported; use an Ed25519 or ECDSA key`);
}
