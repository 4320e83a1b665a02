import { type KeyObject, generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { systemClock } from '@mezite/identity';
import { nullLogger } from '@mezite/platform';
import { type CaAlgorithm, encodePublicKey, exportCaPrivateKey, fingerprintSha256, formatPublicKey, generateCaKey, parseCertificate, parsePublicKey, signCertificate } from '@mezite/ssh';
import { serveChild } from '../child';
import { elapsedUs, Histogram } from '../histogram';
import { requireServiceModule } from '../repo';
import type { LoadResult } from '../load/load-result';

/** The parts of ssh-ca's build this benchmark drives (services export only `main`). */
interface SshCaModules {
  CertificateSigner: new (o: { store: unknown; cas: unknown; kek: Buffer; clock: unknown; logger: unknown; caRefreshMs?: number }) => {
    load(): Promise<void>;
    sign(req: unknown): Promise<{ certificate: string }>;
  };
  MemoryIssuedCertificateStore: new () => unknown;
  sealPrivateKey: (kek: Buffer, caId: string, plaintext: Buffer) => Buffer;
}

function loadSshCa(): SshCaModules {
  const signer = requireServiceModule<Pick<SshCaModules, 'CertificateSigner'>>('ssh-ca', 'domain/certificate-signer.js');
  const store = requireServiceModule<Pick<SshCaModules, 'MemoryIssuedCertificateStore'>>('ssh-ca', 'store/memory-issued-certificate-store.js');
  const kek = requireServiceModule<Pick<SshCaModules, 'sealPrivateKey'>>('ssh-ca', 'domain/key-encryption.js');
  return { ...signer, ...store, ...kek };
}

/** The extensions the auth-server asks for on a bot certificate (its JSON claims included). */
function botExtensions(): Record<string, string> {
  const claims = { v: 1, bot: 'b-0-1', bot_id: randomUUID(), tenant: randomUUID(), roles: ['bench'], gen: 1 };
  return { 'permit-pty': '', 'mezite@mezite.dev': JSON.stringify(claims) };
}

/** Runs `op` back to back for `ms`, one at a time, recording each latency. */
function syncLoop(ms: number, op: (i: number) => void): LoadResult {
  const hist = new Histogram();
  const cpu0 = process.cpuUsage();
  const startedAt = Date.now();
  const end = startedAt + ms;
  let i = 0;
  while (Date.now() < end) {
    const t = process.hrtime.bigint();
    op(i++);
    hist.record(elapsedUs(t));
  }
  const cpu = process.cpuUsage(cpu0);
  return { ok: hist.count, okTotal: hist.count, errors: 0, errorSamples: [], hist: hist.toJSON(), startedAt, endedAt: Date.now(), clientCpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

async function asyncLoop(ms: number, op: (i: number) => Promise<void>): Promise<LoadResult> {
  const hist = new Histogram();
  const cpu0 = process.cpuUsage();
  const startedAt = Date.now();
  const end = startedAt + ms;
  let i = 0;
  while (Date.now() < end) {
    const t = process.hrtime.bigint();
    await op(i++);
    hist.record(elapsedUs(t));
  }
  const cpu = process.cpuUsage(cpu0);
  return { ok: hist.count, okTotal: hist.count, errors: 0, errorSamples: [], hist: hist.toJSON(), startedAt, endedAt: Date.now(), clientCpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** What {@link run} measured for one CA algorithm. */
export interface SignResults {
  algorithm: CaAlgorithm;
  raw: LoadResult;
  signCertificate: LoadResult;
  certificateSigner: LoadResult;
  /** The parts, one call at a time: what CertificateSigner adds to signCertificate. */
  parts: Record<string, LoadResult>;
}

function merge(a: LoadResult | undefined, b: LoadResult): LoadResult {
  if (!a) return b;
  return { ok: a.ok + b.ok, okTotal: a.okTotal + b.okTotal, errors: 0, errorSamples: [], hist: Histogram.from(a.hist).merge(b.hist).toJSON(), startedAt: a.startedAt, endedAt: b.endedAt, clientCpuSeconds: a.clientCpuSeconds + b.clientCpuSeconds };
}

/**
 * Row 1: one CA key, three ways to sign with it, one at a time on one core:
 * `crypto.sign` alone (the hardware limit through Node), `signCertificate` (encoding
 * and signing an OpenSSH certificate), and ssh-ca's `CertificateSigner` with the
 * in-memory issued-certificate log (request checks, serial, log write). Rounds are
 * interleaved so a burst of load from elsewhere hits all three alike.
 */
async function run(p: { algorithm: CaAlgorithm; durationMs: number; rounds: number }): Promise<SignResults> {
  const ssh = loadSshCa();
  const ca = generateCaKey(p.algorithm);
  const key: KeyObject = ca.privateKey;
  // 256 subject keys, as bots would present them (ECDSA P-256, mezd's default).
  const subjects = Array.from({ length: 256 }, () => formatPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey));
  const parsed = subjects.map((s) => parsePublicKey(s));
  const extensions = botExtensions();
  const now = Date.now();
  // What the CA signs is ~the size of a bot certificate's body.
  const sample = signCertificate({ ca: { key }, subjectKey: parsed[0]!, type: 'user', serial: 1n, keyId: 'bot:b-0-1/1', principals: ['deploy'], validAfter: new Date(now - 60_000), validBefore: new Date(now + 3_600_000), extensions });
  const tbs = randomBytes(sample.blob.length - 100);
  const rawSign = p.algorithm === 'ed25519' ? () => sign(null, tbs, key) : () => sign('sha256', tbs, { key, dsaEncoding: 'ieee-p1363' });

  const kek = randomBytes(32);
  const caId = randomUUID();
  const record = {
    id: caId,
    type: 'user',
    algorithm: p.algorithm,
    publicKey: ca.publicKeyLine,
    fingerprint: fingerprintSha256(encodePublicKey(key)),
    encryptedPrivateKey: ssh.sealPrivateKey(kek, caId, exportCaPrivateKey(key)),
    // Both shapes of the CA record (an `active` flag before CA rotation, a `state` after).
    active: true,
    state: 'active',
    createdAt: new Date(),
  };
  const cas = { list: async () => [record], listAll: async () => [record] };
  const signer = new ssh.CertificateSigner({ store: new ssh.MemoryIssuedCertificateStore(), cas, kek, clock: systemClock, logger: nullLogger });
  await signer.load();
  const tenantId = randomUUID();
  const subjectId = randomUUID();

  let raw: LoadResult | undefined;
  let sc: LoadResult | undefined;
  let cs: LoadResult | undefined;
  const slice = Math.max(200, Math.floor(p.durationMs / p.rounds));
  // Warm up each path (JIT) before measuring.
  syncLoop(150, () => rawSign());
  for (let r = 0; r < p.rounds; r++) {
    raw = merge(raw, syncLoop(slice, () => void rawSign()));
    sc = merge(
      sc,
      syncLoop(slice, (i) => {
        const t = Date.now();
        signCertificate({ ca: { key }, subjectKey: parsed[i & 255]!, type: 'user', serial: BigInt(i + 1), keyId: `bot:b-0-1/${i + 1}`, principals: ['deploy'], validAfter: new Date(t - 60_000), validBefore: new Date(t + 3_600_000), extensions });
      }),
    );
    cs = merge(
      cs,
      await asyncLoop(slice, async (i) => {
        await signer.sign({ type: 'user', publicKey: subjects[i & 255]!, keyId: 'bot:b-0-1', principals: ['deploy'], ttlSeconds: 3600, extensions, subjectId, tenantId });
      }),
    );
  }
  // The parts, 300 ms each: what a request pays besides the signature.
  const line = sample.line;
  const parts: Record<string, LoadResult> = {
    'parsePublicKey (subject key line → KeyObject)': syncLoop(300, (i) => void parsePublicKey(subjects[i & 255]!)),
    'parseCertificate (two keys imported)': syncLoop(300, () => void parseCertificate(line)),
    'fingerprintSha256': syncLoop(300, (i) => void fingerprintSha256(parsed[i & 255]!.blob)),
    'generateKeyPairSync P-256 (mezd, per renewal)': syncLoop(300, () => void generateKeyPairSync('ec', { namedCurve: 'P-256' })),
  };
  return { algorithm: p.algorithm, raw: raw!, signCertificate: sc!, certificateSigner: cs!, parts };
}

serveChild({ run });
