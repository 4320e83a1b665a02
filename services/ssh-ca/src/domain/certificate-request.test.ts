import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { isMeziteError } from '@mezite/identity';
import { formatPublicKey } from '@mezite/ssh';
import { type CertificateRequest, checkCertificateRequest } from './certificate-request';

const key = formatPublicKey(generateKeyPairSync('ed25519').publicKey, 'laptop');
/** An RSA-1024 key line, encoded by hand (our encoder refuses to write one). */
function rsa1024Line(): string {
  const jwk = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, (b.length >> 8) & 0xff, b.length & 0xff]), b]);
  const mpint = (b64: string) => {
    const b = Buffer.from(b64, 'base64url');
    return str((b[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
  };
  return `ssh-rsa ${Buffer.concat([str(Buffer.from('ssh-rsa')), mpint(jwk.e as string), mpint(jwk.n as string)]).toString('base64')}`;
}
const rsa1024 = rsa1024Line();
const user = (over: Partial<CertificateRequest> = {}): CertificateRequest => ({ type: 'user', publicKey: key, keyId: 'bot:deploy', principals: ['deploy'], ttlSeconds: 3600, ...over });
const host = (over: Partial<CertificateRequest> = {}): CertificateRequest => user({ type: 'host', keyId: 'node:web-1', principals: ['web-1.example.com'], ...over });
const many = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);

describe('checkCertificateRequest', () => {
  test.each<[string, CertificateRequest]>([
    ['a minimal user request', user()],
    ['ttl of exactly 60 s', user({ ttlSeconds: 60 })],
    ['ttl of exactly 30 days', user({ ttlSeconds: 30 * 24 * 3600 })],
    ['256 principals', user({ principals: many(256) })],
    ['a principal of 256 characters', user({ principals: ['a'.repeat(256)] })],
    ['e-mail and spaces in principals', user({ principals: ['deploy@example.com', 'Jane Doe'] })],
    ['a key id of 256 printable characters', user({ keyId: 'k'.repeat(256) })],
    ['every OpenSSH extension as a flag', user({ extensions: { 'permit-X11-forwarding': '', 'permit-agent-forwarding': '', 'permit-port-forwarding': '', 'permit-pty': '', 'permit-user-rc': '' } })],
    ['a vendor extension carrying JSON', user({ extensions: { 'mezite@mezite.dev': '{"bot":"deploy","roles":["ci"]}' } })],
    ['force-command, source-address and verify-required', user({ criticalOptions: { 'force-command': '/usr/bin/backup --now', 'source-address': '10.0.0.1,10.0.0.0/8,2001:db8::/32', 'verify-required': '' } })],
    ['a host request', host()],
    ['a host request with empty option maps (proto defaults)', host({ extensions: {}, criticalOptions: {} })],
    ['UUIDs for subject and tenant', user({ subjectId: randomUUID(), tenantId: randomUUID() })],
    ['empty subject and tenant (proto defaults)', user({ subjectId: '', tenantId: '' })],
  ])('accepts %s', (_what, req) => {
    expect(() => checkCertificateRequest(req)).not.toThrow();
  });

  test.each<[string, CertificateRequest, RegExp]>([
    ['an unknown type', user({ type: 'ca' as never }), /^type must be user or host/],
    ['a key line that is not a key', user({ publicKey: 'not a key' }), /^public_key: /],
    ['a certificate instead of a key', user({ publicKey: 'ssh-ed25519-cert-v01@openssh.com AAAA' }), /^public_key: unsupported key type/],
    ['a DSA key', user({ publicKey: 'ssh-dss AAAAB3NzaC1kc3M=' }), /^public_key: DSA keys are not supported/],
    ['an RSA key under 2048 bits', user({ publicKey: rsa1024 }), /^public_key: RSA keys must have at least 2048 bits/],
    ['an empty key id', user({ keyId: '' }), /^key_id must be 1 to 256 printable ASCII/],
    ['a key id of 257 characters', user({ keyId: 'k'.repeat(257) }), /^key_id/],
    ['a key id with a newline', user({ keyId: 'bot\nroot' }), /^key_id/],
    ['a key id with non-ASCII', user({ keyId: 'bot:déploy' }), /^key_id/],
    ['no principals', user({ principals: [] }), /at least one/],
    ['257 principals', user({ principals: many(257) }), /at most 256/],
    ['an empty principal', user({ principals: ['deploy', ''] }), /non-empty/],
    ['a principal of 257 characters', user({ principals: ['a'.repeat(257)] }), /longer than 256/],
    ['a principal with a comma', user({ principals: ['deploy,root'] }), /comma/],
    ['a principal with a control character', user({ principals: ['deploy\0root'] }), /control character/],
    ['a principal listed twice', user({ principals: ['deploy', 'deploy'] }), /listed twice/],
    ['ttl of 59 s', user({ ttlSeconds: 59 }), /^ttl_seconds must be .* from 60 .* to 2592000/],
    ['ttl of 30 days and one second', user({ ttlSeconds: 30 * 24 * 3600 + 1 }), /^ttl_seconds/],
    ['a fractional ttl', user({ ttlSeconds: 60.5 }), /^ttl_seconds/],
    ['a ttl of 0 (proto default)', user({ ttlSeconds: 0 }), /^ttl_seconds/],
    ['an unknown extension', user({ extensions: { 'permit-root': '' } }), /unknown extension "permit-root"/],
    ['a flag extension with a value', user({ extensions: { 'permit-pty': 'yes' } }), /flag/],
    ['a malformed vendor extension name', user({ extensions: { 'x y@mezite.dev': '' } }), /unknown extension/],
    ['a vendor value with a control character', user({ extensions: { 'mezite@mezite.dev': 'a\nb' } }), /control character/],
    ['a vendor value over 8 KiB', user({ extensions: { 'mezite@mezite.dev': 'x'.repeat(8193) } }), /longer than 8192/],
    ['33 extensions', user({ extensions: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`e${i}@mezite.dev`, ''])) }), /at most 32 extensions/],
    ['a vendor critical option (sshd would refuse the certificate)', user({ criticalOptions: { 'mezite@mezite.dev': 'x' } }), /unknown critical option/],
    ['force-command without a command', user({ criticalOptions: { 'force-command': '' } }), /needs a value/],
    ['verify-required with a value', user({ criticalOptions: { 'verify-required': 'yes' } }), /flag/],
    ['a source-address that is not an address', user({ criticalOptions: { 'source-address': '10.0.0.0/8,example.com' } }), /"example.com" is not an address/],
    ['a source-address with a bad prefix', user({ criticalOptions: { 'source-address': '10.0.0.0/33' } }), /not an address/],
    ['a source-address with spaces', user({ criticalOptions: { 'source-address': '10.0.0.1, 10.0.0.2' } }), /not an address/],
    ['extensions on a host certificate', host({ extensions: { 'permit-pty': '' } }), /^host certificates carry no extensions/],
    ['critical options on a host certificate', host({ criticalOptions: { 'force-command': '/bin/true' } }), /^host certificates carry no critical options/],
    ['a subject id that is not a UUID', user({ subjectId: 'bot-1' }), /^subject_id must be a UUID/],
    ['a tenant id that is not a UUID', user({ tenantId: 'acme' }), /^tenant_id must be a UUID/],
  ])('refuses %s', (_what, req, message) => {
    let err: unknown;
    try {
      checkCertificateRequest(req);
    } catch (e) {
      err = e;
    }
    expect(isMeziteError(err, 'InvalidArgument')).toBe(true);
    expect((err as Error).message).toMatch(message);
  });

  test('normalizes UUIDs to lower case and copies the lists it was given', () => {
    const id = randomUUID();
    const principals = ['deploy'];
    const out = checkCertificateRequest(user({ subjectId: id.toUpperCase(), principals }));
    expect(out.subjectId).toBe(id);
    expect(out.tenantId).toBeNull();
    principals.push('root');
    expect(out.principals).toEqual(['deploy']);
  });
});
