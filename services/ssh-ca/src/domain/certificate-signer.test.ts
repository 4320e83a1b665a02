import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { alreadyExists, FakeClock, isMeziteError, unavailable } from '@mezite/identity';
import type { Logger, LogFields } from '@mezite/platform';
import { type CaAlgorithm, encodePublicKey, exportCaPrivateKey, fingerprintSha256, formatPublicKey, generateCaKey, parseCertificate, verifyCertificateSignature } from '@mezite/ssh';
import { MemoryIssuedCertificateStore } from '../store/memory-issued-certificate-store';
import type { CaState, CaType, CertAuthority } from './cert-authority';
import type { CertificateRequest } from './certificate-request';
import { CertificateSigner, type CertificateSignerOptions } from './certificate-signer';
import type { IssuedCertificate } from './issued-certificate';
import { sealPrivateKey } from './key-encryption';

const kek = randomBytes(32);

function makeCa(type: CaType, state: CaState = 'active', algorithm: CaAlgorithm = 'ecdsa-p256'): CertAuthority {
  const id = randomUUID();
  const { privateKey } = generateCaKey(algorithm);
  const blob = encodePublicKey(privateKey);
  return { id, type, algorithm, publicKey: formatPublicKey(blob), fingerprint: fingerprintSha256(blob), encryptedPrivateKey: sealPrivateKey(kek, id, exportCaPrivateKey(privateKey)), state, createdAt: new Date('2025-06-01T00:00:00Z') };
}

/** A logger that keeps its lines, to see what the signer did (key opened, CA changed). */
function recordingLogger(): Logger & { lines: { level: string; msg: string; fields?: LogFields }[] } {
  const lines: { level: string; msg: string; fields?: LogFields }[] = [];
  const at = (level: string) => (msg: string, fields?: LogFields) => void lines.push({ level, msg, ...(fields ? { fields } : {}) });
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log };
  return Object.assign(log, { lines });
}

const subjectLine = () => formatPublicKey(generateKeyPairSync('ed25519').publicKey, 'bot key');
const SUBJECT = randomUUID();
const TENANT = randomUUID();

function setup(over: Partial<CertificateSignerOptions> = {}) {
  const clock = new FakeClock('2026-03-01T12:00:00.750Z');
  const cas = [makeCa('user'), makeCa('host', 'active', 'ed25519')];
  // A CA source that counts its reads and can be made to fail.
  const source = {
    reads: 0,
    fail: false,
    async listAll() {
      this.reads++;
      if (this.fail) throw unavailable('database unavailable');
      return cas.map((c) => ({ ...c }));
    },
  };
  const store = new MemoryIssuedCertificateStore();
  const logger = recordingLogger();
  const signer = new CertificateSigner({ store, cas: source, kek, clock, logger, ...over });
  const userCa = cas[0] as CertAuthority;
  const hostCa = cas[1] as CertAuthority;
  return { clock, cas, source, store, logger, signer, userCa, hostCa };
}

const userRequest = (over: Partial<CertificateRequest> = {}): CertificateRequest => ({
  type: 'user',
  publicKey: subjectLine(),
  keyId: 'bot:github-deploy',
  principals: ['deploy', 'ubuntu'],
  ttlSeconds: 3600,
  extensions: { 'permit-pty': '', 'permit-agent-forwarding': '', 'mezite@mezite.dev': '{"bot":"github-deploy"}' },
  criticalOptions: { 'source-address': '10.0.0.0/8,2001:db8::/32' },
  subjectId: SUBJECT,
  tenantId: TENANT,
  ...over,
});

const rejection = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e);

describe('CertificateSigner', () => {
  test('signs a user certificate valid from now − 60 s to now + ttl, in whole seconds, and logs it', async () => {
    const { signer, store, userCa } = setup();
    const req = userRequest();
    const out = await signer.sign(req);

    expect(out.validAfter).toEqual(new Date('2026-03-01T11:59:00Z'));
    expect(out.validBefore).toEqual(new Date('2026-03-01T13:00:00Z'));
    expect(out.keyId).toBe(`bot:github-deploy/${out.serial}`);
    expect(out.caId).toBe(userCa.id);
    expect(out.caFingerprint).toBe(userCa.fingerprint);

    const cert = parseCertificate(out.certificate);
    expect(verifyCertificateSignature(cert)).toBe(true);
    expect(fingerprintSha256(cert.signatureKey.blob)).toBe(userCa.fingerprint);
    expect(cert.type).toBe('user');
    expect(cert.serial).toBe(out.serial);
    expect(cert.keyId).toBe(out.keyId);
    expect(cert.principals).toEqual(['deploy', 'ubuntu']);
    expect(cert.validAfter).toEqual(out.validAfter);
    expect(cert.validBefore).toEqual(out.validBefore);
    expect(cert.extensions).toEqual(req.extensions);
    expect(cert.criticalOptions).toEqual(req.criticalOptions);
    expect(formatPublicKey(cert.subjectKey.blob)).toBe(req.publicKey.split(' ').slice(0, 2).join(' '));

    expect(await store.find(userCa.id, out.serial)).toEqual<IssuedCertificate>({
      caId: userCa.id,
      serial: out.serial,
      type: 'user',
      keyId: out.keyId,
      principals: ['deploy', 'ubuntu'],
      subjectId: SUBJECT,
      tenantId: TENANT,
      publicKeyFingerprint: fingerprintSha256(cert.subjectKey.blob),
      validAfter: out.validAfter,
      validBefore: out.validBefore,
      createdAt: new Date('2026-03-01T12:00:00.750Z'),
    });
  });

  test('signs a host certificate with the host CA; subject and tenant may be left out', async () => {
    const { signer, store, hostCa } = setup();
    const out = await signer.sign({ type: 'host', publicKey: subjectLine(), keyId: 'node:web-1', principals: ['web-1', 'web-1.example.com'], ttlSeconds: 86_400 });
    const cert = parseCertificate(out.certificate);
    expect(cert.type).toBe('host');
    expect(cert.signatureAlgorithm).toBe('ssh-ed25519');
    expect(fingerprintSha256(cert.signatureKey.blob)).toBe(hostCa.fingerprint);
    expect(cert.extensions).toEqual({});
    expect(cert.criticalOptions).toEqual({});
    expect(await store.find(hostCa.id, out.serial)).toMatchObject({ type: 'host', subjectId: null, tenantId: null });
  });

  test('2000 signings get 2000 distinct positive 63-bit serials, each logged', async () => {
    const { signer, store } = setup();
    const key = subjectLine();
    const serials = new Set<bigint>();
    for (let i = 0; i < 2000; i++) {
      const { serial } = await signer.sign(userRequest({ publicKey: key }));
      expect(serial > 0n && serial < 2n ** 63n).toBe(true);
      serials.add(serial);
    }
    expect(serials.size).toBe(2000);
    expect(store.size).toBe(2000);
  });

  test('a serial already logged is drawn again: the returned certificate carries the serial that was logged', async () => {
    const { signer, store, userCa } = setup();
    const tried: bigint[] = [];
    const insert = store.insert.bind(store);
    store.insert = async (c) => {
      tried.push(c.serial);
      if (tried.length === 1) throw alreadyExists('issued certificate already exists');
      return insert(c);
    };
    const out = await signer.sign(userRequest());
    expect(tried).toHaveLength(2);
    expect(out.serial).toBe(tried[1]);
    expect(parseCertificate(out.certificate).serial).toBe(tried[1]);
    expect(await store.find(userCa.id, tried[0] as bigint)).toBeNull();
  });

  test('a serial that keeps colliding gives up with Internal after three draws', async () => {
    const { signer, store } = setup();
    let tries = 0;
    store.insert = async () => {
      tries++;
      throw alreadyExists('issued certificate already exists');
    };
    const err = await rejection(signer.sign(userRequest()));
    expect(isMeziteError(err, 'Internal')).toBe(true);
    expect(tries).toBe(3);
  });

  test.each([
    ['Unavailable', () => unavailable('database unavailable')],
    ['a plain Error', () => new Error('disk on fire')],
  ])('fails closed: when the log write fails (%s) no certificate is returned', async (_what, error) => {
    const { signer, store } = setup();
    const thrown = error();
    store.insert = async () => {
      throw thrown;
    };
    await expect(signer.sign(userRequest())).rejects.toBe(thrown);
  });

  test('refuses to certify any CA key, active or not', async () => {
    const { signer, cas } = setup();
    cas.push(makeCa('user', 'retired'));
    for (const ca of cas) {
      const err = await rejection(signer.sign(userRequest({ publicKey: ca.publicKey })));
      expect(isMeziteError(err, 'InvalidArgument')).toBe(true);
      expect((err as Error).message).toMatch(/CA key/);
    }
  });

  test('bad input is InvalidArgument naming the field, and nothing is logged', async () => {
    const { signer, store } = setup();
    for (const [over, message] of [
      [{ publicKey: 'ssh-ed25519 AAAA' }, /^public_key: /],
      [{ principals: [] }, /principals/],
      [{ principals: ['a,b'] }, /comma/],
      [{ ttlSeconds: 59 }, /ttl_seconds/],
      [{ keyId: 'x\n' }, /key_id/],
      [{ extensions: { 'permit-everything': '' } }, /unknown extension/],
      [{ type: 'host', extensions: { 'permit-pty': '' }, criticalOptions: {} }, /host certificates carry no extensions/],
      [{ subjectId: 'bot-1' }, /subject_id/],
    ] as [Partial<CertificateRequest>, RegExp][]) {
      const err = await rejection(signer.sign(userRequest(over)));
      expect(isMeziteError(err, 'InvalidArgument')).toBe(true);
      expect((err as Error).message).toMatch(message);
    }
    expect(store.size).toBe(0);
  });

  test('without an active CA of the type the call is FailedPrecondition', async () => {
    const { signer, cas } = setup();
    (cas[1] as CertAuthority).state = 'previous';
    const err = await rejection(signer.sign({ type: 'host', publicKey: subjectLine(), keyId: 'node:web-1', principals: ['web-1'], ttlSeconds: 3600 }));
    expect(isMeziteError(err, 'FailedPrecondition')).toBe(true);
  });

  test('opens the CA key once and reads the CAs at most once per refresh interval, even with calls in parallel', async () => {
    const { signer, source, clock, logger } = setup();
    await Promise.all(Array.from({ length: 50 }, () => signer.sign(userRequest())));
    expect(source.reads).toBe(1);
    clock.advance(4999);
    await signer.sign(userRequest());
    expect(source.reads).toBe(1);
    clock.advance(1);
    await Promise.all(Array.from({ length: 10 }, () => signer.sign(userRequest())));
    expect(source.reads).toBe(2);
    expect(logger.lines.filter((l) => l.msg === 'CA private key opened')).toHaveLength(1);
  });

  test('follows a rotation within the refresh interval: the new active CA signs from then on', async () => {
    const { signer, cas, clock, logger, userCa } = setup();
    expect((await signer.sign(userRequest())).caFingerprint).toBe(userCa.fingerprint);
    const next = makeCa('user');
    userCa.state = 'previous';
    cas.push(next);
    expect((await signer.sign(userRequest())).caFingerprint).toBe(userCa.fingerprint); // not read again yet
    clock.advance(5000);
    const out = await signer.sign(userRequest());
    expect(out.caId).toBe(next.id);
    expect(fingerprintSha256(parseCertificate(out.certificate).signatureKey.blob)).toBe(next.fingerprint);
    expect(logger.lines.find((l) => l.msg === 'active CA changed')?.fields).toMatchObject({ type: 'user', fingerprint: next.fingerprint, previous: userCa.fingerprint });
    // The retired CA is still a CA: its key may not be certified.
    await expect(signer.sign(userRequest({ publicKey: userCa.publicKey }))).rejects.toThrow(/CA key/);
  });

  test('invalidate() (a rotation phase on this replica) makes the very next certificate use the CAs as stored now', async () => {
    const { signer, cas, userCa } = setup();
    expect((await signer.sign(userRequest())).caFingerprint).toBe(userCa.fingerprint);
    const next = makeCa('user');
    userCa.state = 'previous';
    cas.push(next);
    signer.invalidate();
    expect((await signer.sign(userRequest())).caId).toBe(next.id);
  });

  test('keeps signing with the CAs it has when a re-read fails; with none read yet, the error is the source\'s', async () => {
    const { signer, source, clock, logger } = setup();
    await signer.sign(userRequest());
    source.fail = true;
    clock.advance(5000);
    await expect(signer.sign(userRequest())).resolves.toBeDefined();
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg.startsWith('cannot read the CAs'))).toBe(true);

    const cold = setup();
    cold.source.fail = true;
    const err = await rejection(cold.signer.sign(userRequest()));
    expect(isMeziteError(err, 'Unavailable')).toBe(true);
  });

  test('load() opens the active keys at start-up: a wrong key-encryption key fails there', async () => {
    const good = setup();
    await good.signer.load();
    expect(good.logger.lines.filter((l) => l.msg === 'CA private key opened')).toHaveLength(2);

    const bad = setup({ kek: randomBytes(32) });
    const err = await rejection(bad.signer.load());
    expect(isMeziteError(err, 'Internal')).toBe(true);
    expect((err as Error).message).toMatch(/key-encryption key/);
  });

  test('a stored private key that does not match the CA public key is refused', async () => {
    const { signer, cas } = setup();
    const userCa = cas[0] as CertAuthority;
    userCa.encryptedPrivateKey = sealPrivateKey(kek, userCa.id, exportCaPrivateKey(generateCaKey('ecdsa-p256').privateKey));
    const err = await rejection(signer.sign(userRequest()));
    expect(isMeziteError(err, 'Internal')).toBe(true);
    expect((err as Error).message).toMatch(/does not match its public key/);
  });

  test('the constructor needs its dependencies', () => {
    const { store, source } = setup();
    const logger = recordingLogger();
    expect(() => new CertificateSigner({ store, cas: source, kek: randomBytes(16), clock: new FakeClock(), logger })).toThrow(/32-byte/);
    expect(() => new CertificateSigner({ store, cas: source, kek, clock: undefined as never, logger })).toThrow(/required/);
  });
});
