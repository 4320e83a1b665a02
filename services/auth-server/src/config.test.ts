import { randomBytes } from 'node:crypto';
import { loadAuthServerConfig } from './config';

const base = { DATABASE_URL: 'postgresql://u@127.0.0.1:5432/db', MEZITE_SESSION_PEPPER: randomBytes(32).toString('base64') };

describe('auth-server config: replicas and load shedding', () => {
  test('defaults: one token-service and ssh-ca address, 256 calls in flight, a 1 s retry hint', () => {
    const cfg = loadAuthServerConfig(base);
    expect(cfg).toMatchObject({ tokenServiceTarget: '127.0.0.1:3026', sshCaTarget: '127.0.0.1:3027', maxInFlight: 256, shedRetryAfterMs: 1000 });
  });

  test.each(['127.0.0.1:3026', 'token-service:3026', 'ipv4:10.0.0.1:3026,10.0.0.2:3026', 'ipv6:[::1]:3026,[::1]:3036', 'dns:///token-service.mezite.svc:3026', 'dns:token-service:3026'])(
    'MEZITE_TOKEN_SERVICE_TARGET=%s is a target',
    (target) => {
      expect(loadAuthServerConfig({ ...base, MEZITE_TOKEN_SERVICE_TARGET: target }).tokenServiceTarget).toBe(target);
    },
  );

  test.each([
    ['MEZITE_TOKEN_SERVICE_TARGET', 'ipv4:10.0.0.1,10.0.0.2:3026'],
    ['MEZITE_SSH_CA_TARGET', 'dns:///ssh-ca'],
    ['MEZITE_SSH_CA_TARGET', 'ssh-ca'],
    ['MEZITE_MAX_IN_FLIGHT', '-1'],
    ['MEZITE_MAX_IN_FLIGHT', 'many'],
    ['MEZITE_SHED_RETRY_AFTER', 'soon'],
  ])('%s=%s is refused, naming the key', (key, value) => {
    expect(() => loadAuthServerConfig({ ...base, [key]: value })).toThrow(new RegExp(key));
  });

  test('MEZITE_MAX_IN_FLIGHT=0 turns shedding off; the hint takes a duration', () => {
    expect(loadAuthServerConfig({ ...base, MEZITE_MAX_IN_FLIGHT: '0', MEZITE_SHED_RETRY_AFTER: '2500ms' })).toMatchObject({ maxInFlight: 0, shedRetryAfterMs: 2500 });
  });
});

describe('auth-server config: failed-authentication limits', () => {
  test('defaults: 10 failures a minute per (client, source) and per source; an alert at 50 failures of one client', () => {
    expect(loadAuthServerConfig(base)).toMatchObject({ authFailureLimit: 10, authFailureAlert: 50, redisUrl: '', redisKeyPrefix: 'auth:' });
  });

  test('REDIS_URL shares the limits over the replicas, under MEZITE_REDIS_KEY_PREFIX', () => {
    expect(loadAuthServerConfig({ ...base, REDIS_URL: 'redis://redis:6379/0', MEZITE_REDIS_KEY_PREFIX: 'auth-eu:' })).toMatchObject({ redisUrl: 'redis://redis:6379/0', redisKeyPrefix: 'auth-eu:' });
  });

  test.each([
    ['MEZITE_AUTH_FAILURE_LIMIT', '0'],
    ['MEZITE_AUTH_FAILURE_ALERT', '0'],
    ['MEZITE_AUTH_FAILURE_ALERT', 'lots'],
    ['REDIS_URL', 'not a url'],
  ])('%s=%s is refused, naming the key', (key, value) => {
    expect(() => loadAuthServerConfig({ ...base, [key]: value })).toThrow(new RegExp(key));
  });
});
