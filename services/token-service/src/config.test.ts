import { randomBytes } from 'node:crypto';
import { keyId } from '@mezite/identity';
import { loadTokenServiceConfig } from './config';

const base = { DATABASE_URL: 'postgresql://u@127.0.0.1:5432/db', MEZITE_TOKEN_PEPPER: randomBytes(32).toString('base64') };

describe('token-service config', () => {
  test('defaults: in-memory cache, 48 h rotation overlap, 90 d API token lifetime', () => {
    const cfg = loadTokenServiceConfig(base);
    expect(cfg.redisUrl).toBe('');
    expect(cfg.rotationOverlapMs).toBe(48 * 3_600_000);
    expect(cfg.apiTokenTtlMs).toBe(90 * 86_400_000);
    expect(cfg.apiTokenLeaseMs).toBe(1000);
  });

  test('MEZITE_API_TOKEN_LEASE takes a duration up to 10 s; 0 turns leases off', () => {
    expect(loadTokenServiceConfig({ ...base, MEZITE_API_TOKEN_LEASE: '250ms' }).apiTokenLeaseMs).toBe(250);
    expect(loadTokenServiceConfig({ ...base, MEZITE_API_TOKEN_LEASE: '0' }).apiTokenLeaseMs).toBe(0);
    expect(() => loadTokenServiceConfig({ ...base, MEZITE_API_TOKEN_LEASE: '11s' })).toThrow(/MEZITE_API_TOKEN_LEASE/);
  });

  test('MEZITE_ROTATION_OVERLAP and MEZITE_API_TOKEN_TTL take durations', () => {
    const cfg = loadTokenServiceConfig({ ...base, MEZITE_ROTATION_OVERLAP: '1h30m', MEZITE_API_TOKEN_TTL: '30d', REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(cfg.rotationOverlapMs).toBe(90 * 60_000);
    expect(cfg.apiTokenTtlMs).toBe(30 * 86_400_000);
    expect(cfg.redisUrl).toBe('redis://127.0.0.1:6379');
  });

  test.each([
    ['MEZITE_ROTATION_OVERLAP', '48'],
    ['MEZITE_ROTATION_OVERLAP', '400d'],
    ['MEZITE_API_TOKEN_TTL', 'forever'],
  ])('%s=%s is refused, naming the key', (key, value) => {
    expect(() => loadTokenServiceConfig({ ...base, [key]: value })).toThrow(new RegExp(key));
  });

  test('MEZITE_TOKEN_PEPPER_PREVIOUS takes earlier peppers, comma-separated, into the key ring; a bad one is named', () => {
    const [prev1, prev2] = [randomBytes(32), randomBytes(32)];
    const cfg = loadTokenServiceConfig({ ...base, MEZITE_TOKEN_PEPPER_PREVIOUS: `${prev1.toString('base64')},${prev2.toString('hex')}` });
    expect(cfg.peppers.current.id).toBe(keyId(Buffer.from(base.MEZITE_TOKEN_PEPPER, 'base64')));
    expect(cfg.peppers.previous.map((k) => k.id)).toEqual([keyId(prev1), keyId(prev2)]);
    expect(loadTokenServiceConfig(base).peppers.previous).toEqual([]);
    expect(() => loadTokenServiceConfig({ ...base, MEZITE_TOKEN_PEPPER_PREVIOUS: 'c2hvcnQ=' })).toThrow(/MEZITE_TOKEN_PEPPER_PREVIOUS: key 1/);
  });
});
