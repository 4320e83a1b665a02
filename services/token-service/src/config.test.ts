import { randomBytes } from 'node:crypto';
import { loadTokenServiceConfig } from './config';

const base = { DATABASE_URL: 'postgresql://u@127.0.0.1:5432/db', MEZITE_TOKEN_PEPPER: randomBytes(32).toString('base64') };

describe('token-service config', () => {
  test('defaults: in-memory cache, 48 h rotation overlap, 90 d API token lifetime', () => {
    const cfg = loadTokenServiceConfig(base);
    expect(cfg.redisUrl).toBe('');
    expect(cfg.rotationOverlapMs).toBe(48 * 3_600_000);
    expect(cfg.apiTokenTtlMs).toBe(90 * 86_400_000);
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
});
