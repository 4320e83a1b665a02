import { spawnSync } from 'node:child_process';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sshpk from 'sshpk';

/**
 * Test support: stock OpenSSH `ssh-keygen` and sshpk as independent judges of what this
 * folder encodes. Not used by the service itself.
 */
export const SSH_KEYGEN = '/usr/bin/ssh-keygen';

/** A scratch directory for key and certificate files; `cleanup()` removes it. */
export class KeygenWorkspace {
  readonly dir = mkdtempSync(join(tmpdir(), 'mezite-ssh-'));
  private n = 0;

  /** Writes `content` to a fresh file and returns its path. */
  file(content: string | Buffer, name = `f${this.n++}`): string {
    const path = join(this.dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  }

  /** Runs ssh-keygen (in UTC, so printed times are stable) and returns stdout; non-zero exit throws. */
  run(...args: string[]): string {
    const r = spawnSync(SSH_KEYGEN, args, { cwd: this.dir, env: { ...process.env, TZ: 'UTC' }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ssh-keygen ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  /** Generates a key with ssh-keygen; returns the private key path and the public line. */
  generate(type: string, bits?: number, comment = 'test key'): { path: string; publicLine: string } {
    const path = join(this.dir, `key${this.n++}`);
    this.run('-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', comment, '-f', path);
    return { path, publicLine: readFileSync(`${path}.pub`, 'utf8') };
  }

  /** `ssh-keygen -lf` of a public key line: the `SHA256:…` fingerprint it prints. */
  fingerprint(publicLine: string): string {
    const out = this.run('-l', '-E', 'sha256', '-f', this.file(publicLine));
    return out.split(' ')[1] ?? '';
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

type Verifier = { update(data: Buffer): unknown; verify(sig: sshpk.Signature): boolean };

/**
 * True when sshpk verifies the certificate's signature with `caLine`. sshpk's own
 * `isSignedByKey` only compares the CA key's fingerprint for OpenSSH certificates and
 * never checks the signature (and sshpk's re-encoding of the signed part turns an
 * Ed25519 key with its top bit set into an mpint), so this takes the signature as sshpk
 * decodes it and checks it with sshpk's verifier over the bytes before it.
 */
export function sshpkVerifiesCertificate(certLine: string, caLine: string): boolean {
  // sshpk reads at most three words per line, so a comment with spaces is left off.
  const [type = '', data = ''] = certLine.split(' ');
  const cert = sshpk.parseCertificate(`${type} ${data}`, 'openssh');
  const ca = sshpk.parseKey(caLine, 'ssh');
  const sig = cert.signatures.openssh?.signature as (sshpk.Signature & { hashAlgorithm?: string }) | undefined;
  if (!sig || !cert.isSignedByKey(ca)) return false;
  // The signature is the last string of the blob: string(string alg, string sig).
  const blob = Buffer.from(data, 'base64');
  const start = findSignatureField(blob);
  if (start < 0) return false;
  const v = ca.createVerify((sig.hashAlgorithm ?? ca.defaultHashAlgorithm()) as sshpk.AlgorithmHashType) as unknown as Verifier;
  v.update(blob.subarray(0, start));
  return v.verify(sig);
}

/** Where the trailing `string(string alg, string sig)` of a certificate blob starts, or -1. */
function findSignatureField(blob: Buffer): number {
  for (let p = blob.length - 12; p >= 0; p--) {
    if (blob.readUInt32BE(p) !== blob.length - p - 4) continue;
    const n = blob.readUInt32BE(p + 4);
    if (p + 12 + n > blob.length) continue;
    const alg = blob.subarray(p + 8, p + 8 + n).toString('latin1');
    if (/^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|rsa-sha2-(256|512))$/.test(alg) && blob.readUInt32BE(p + 8 + n) === blob.length - p - 12 - n) return p;
  }
  return -1;
}

/** A private key file written by ssh-keygen, as a Node KeyObject (through sshpk). */
export function nodeKeyFromOpenSsh(path: string): KeyObject {
  const k = sshpk.parsePrivateKey(readFileSync(path), 'ssh');
  if (k.type !== 'ed25519') return createPrivateKey(k.toString('pkcs8'));
  // sshpk's PKCS#8 for Ed25519 is a form OpenSSL does not read; go through JWK.
  const part = (name: string) => (k.part as unknown as Record<string, { data: Buffer }>)[name]?.data.toString('base64url') ?? '';
  return createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: part('k'), x: part('A') }, format: 'jwk' });
}
