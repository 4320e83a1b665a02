import { randomBytes } from 'node:crypto';
import { keyId } from '@mezite/identity';
import { loadSshCaConfig } from './config';

const base = { DATABASE_URL: 'postgresql://u@127.0.0.1:5432/db', MEZITE_CA_KEK: randomBytes(32).toString('base64') };

describe('ssh-ca config', () => {
  test('MEZITE_CA_KEK_PREVIOUS takes earlier KEKs, comma-separated, into the key ring; a bad one is named', () => {
    const [p1, p2] = [randomBytes(32), randomBytes(32)];
    const cfg = loadSshCaConfig({ ...base, MEZITE_CA_KEK_PREVIOUS: `${p1.toString('hex')}, ${p2.toString('base64')}` });
    expect(cfg.keks.current.id).toBe(keyId(Buffer.from(base.MEZITE_CA_KEK, 'base64')));
    expect(cfg.keks.previous.map((k) => k.id)).toEqual([keyId(p1), keyId(p2)]);
    expect(loadSshCaConfig(base).keks.previous).toEqual([]);
    expect(() => loadSshCaConfig({ ...base, MEZITE_CA_KEK_PREVIOUS: 'abc' })).toThrow(/MEZITE_CA_KEK_PREVIOUS: key 1/);
  });
});
