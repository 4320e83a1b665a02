import { generateKeyPairSync } from 'node:crypto';
import { botCertificateClaims, botRenewalProof, CLAIMS_EXTENSION } from './bot-claims';
import { generateCaKey } from './ca-key';
import { encodePublicKey, formatPublicKey, parsePublicKey } from './public-key';
import { signBotRenewal, verifyBotRenewal } from './renewal-proof';
import { parseCertificate, signCertificate } from './certificate';

const ca = generateCaKey('ecdsa-p256');
const generateBotKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const key = generateBotKey();

function cert(extensions: Record<string, string>, serial = 4242n) {
  return parseCertificate(
    signCertificate({
      ca: { key: ca.privateKey },
      subjectKey: parsePublicKey(formatPublicKey(key)),
      type: 'user',
      serial,
      keyId: 'bot:deploy',
      principals: ['deploy'],
      validAfter: new Date('2026-03-24T11:59:00Z'),
      validBefore: new Date('2026-03-24T13:00:00Z'),
      extensions,
    }).line,
  );
}

test.each([
  ['a current certificate names its instance', { v: 1, bot: 'deploy', bot_id: 'b-1', inst: 'i-7', gen: 3 }, { instanceId: 'i-7', generation: 3 }],
  ['a certificate issued before instances names its bot instead', { v: 1, bot: 'deploy', bot_id: 'b-1', gen: 5 }, { instanceId: 'b-1', generation: 5 }],
  ['inst is taken whenever it is a string, as the server takes it', { v: 1, bot_id: 'b-1', inst: '', gen: 1 }, { instanceId: '', generation: 1 }],
  ['an inst that is not a string is not one', { v: 1, bot_id: 'b-1', inst: 7, gen: 1 }, { instanceId: 'b-1', generation: 1 }],
  ['a generation that is not an integer is not one', { v: 1, inst: 'i-7', gen: '2' }, { instanceId: 'i-7' }],
])('%s', (_name, claims, expected) => {
  expect(botCertificateClaims(cert({ [CLAIMS_EXTENSION]: JSON.stringify(claims) }))).toEqual(expected);
});

test('a certificate without readable claims yields nothing', () => {
  expect(botCertificateClaims(cert({}))).toEqual({});
  expect(botCertificateClaims(cert({ [CLAIMS_EXTENSION]: 'not json' }))).toEqual({});
  expect(botCertificateClaims(cert({ [CLAIMS_EXTENSION]: 'null' }))).toEqual({});
});

test('the proof of an old certificate is signed over its bot id, generation and serial, as the server checks it', () => {
  const presented = cert({ [CLAIMS_EXTENSION]: JSON.stringify({ v: 1, bot: 'deploy', bot_id: 'b-1', gen: 5 }) });
  const next = encodePublicKey(generateBotKey());
  const timeMs = Date.parse('2026-03-24T12:00:00.123Z');
  const proof = botRenewalProof(presented, next, timeMs, { instanceId: 'saved-instance', generation: 99 });
  expect(proof).toEqual({ instanceId: 'b-1', generation: 5, serial: 4242n, newPublicKeyBlob: next, timeMs });
  // What the server computes on its own from the same certificate.
  const sig = signBotRenewal(key, proof);
  expect(verifyBotRenewal(presented.subjectKey, { instanceId: 'b-1', generation: 5, serial: 4242n, newPublicKeyBlob: next, timeMs }, sig)).toBe(true);
  expect(verifyBotRenewal(presented.subjectKey, { instanceId: 'b-1', generation: 5, serial: 4242n, newPublicKeyBlob: next, timeMs: timeMs + 1 }, sig)).toBe(false);
});

test('without claims the saved instance and generation are used', () => {
  const next = encodePublicKey(generateBotKey());
  expect(botRenewalProof(cert({}, 7n), next, 1, { instanceId: 'saved', generation: 2 })).toMatchObject({ instanceId: 'saved', generation: 2, serial: 7n });
});
