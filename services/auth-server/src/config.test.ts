import { randomBytes } from 'node:crypto';
import { keyId } from '@mezite/identity';
import { loadAuthServerConfig } from './config';

const base = { DATABASE_URL: 'postgresql://u@127.0.0.1:5432/db', MEZITE_SESSION_PEPPER: randomBytes(32).toString('base64'), MEZITE_AUDIT_KEY: randomBytes(32).toString('base64'), MEZITE_AUDIT_SIGNING_KEY: randomBytes(32).toString('hex') };

describe('auth-server config: the audit keys', () => {
  test.each(['MEZITE_AUDIT_KEY', 'MEZITE_AUDIT_SIGNING_KEY'])('%s is required and must be 32 bytes', (key) => {
    const { [key]: _, ...without } = base as Record<string, string>;
    expect(() => loadAuthServerConfig(without)).toThrow(new RegExp(key));
    expect(() => loadAuthServerConfig({ ...base, [key]: 'c2hvcnQ=' })).toThrow(new RegExp(key));
  });
  test('the key id defaults to 1 and must be a short name', () => {
    expect(loadAuthServerConfig(base)).toMatchObject({ auditKeyId: '1', auditCheckpointIntervalMs: 3600_000 });
    expect(loadAuthServerConfig({ ...base, MEZITE_AUDIT_KEY_ID: '2027-01' }).auditKeyId).toBe('2027-01');
    expect(() => loadAuthServerConfig({ ...base, MEZITE_AUDIT_KEY_ID: 'a b' })).toThrow(/MEZITE_AUDIT_KEY_ID/);
  });
});

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

describe('auth-server config: outside secrets stay off the network', () => {
  const tenants = (endpoint: string) => JSON.stringify([{ domain: 'acme', machine_idp: { kind: 'oauth2', token_endpoint: endpoint } }]);

  test('an external machine identity provider gets client secrets over https, or http on loopback only', () => {
    expect(loadAuthServerConfig({ ...base, MEZITE_TENANTS: tenants('https://idp.example.com/token') }).tenants[0]!.machineIdp).toEqual({ kind: 'oauth2', tokenEndpoint: 'https://idp.example.com/token' });
    expect(loadAuthServerConfig({ ...base, MEZITE_TENANTS: tenants('http://127.0.0.1:9000/token') }).tenants[0]!.machineIdp).toMatchObject({ tokenEndpoint: 'http://127.0.0.1:9000/token' });
    for (const bad of ['http://idp.example.com/token', 'http://10.0.0.5/token', 'http://[2001:db8::1]/token', 'ftp://idp/token']) {
      expect(() => loadAuthServerConfig({ ...base, MEZITE_TENANTS: tenants(bad) })).toThrow(/MEZITE_TENANTS.*tenant acme: machine_idp.token_endpoint: expected an https URL/);
    }
  });

  test('the human identity provider: https, or http on loopback', () => {
    expect(loadAuthServerConfig({ ...base, MEZITE_OIDC_ISSUER: 'http://127.0.0.1:5556' }).oidcIssuer).toBe('http://127.0.0.1:5556');
    expect(() => loadAuthServerConfig({ ...base, MEZITE_OIDC_ISSUER: 'http://dex.example.com' })).toThrow(/MEZITE_OIDC_ISSUER.*expected an https URL/);
  });

  test('the demo fixtures (a published client secret) only on loopback listeners, unless a second flag says so', () => {
    expect(loadAuthServerConfig({ ...base, MEZITE_DEMO_FIXTURES: 'true' }).demoFixtures).toBe(true);
    expect(loadAuthServerConfig({ ...base, MEZITE_DEMO_FIXTURES: 'true', MEZITE_AUTH_SERVER_ADDR: 'localhost:3025', MEZITE_HTTP_ADDR: '[::1]:8080' }).demoFixtures).toBe(true);
    for (const exposed of [{ MEZITE_HTTP_ADDR: '0.0.0.0:8080' }, { MEZITE_AUTH_SERVER_ADDR: '10.1.2.3:3025' }, { MEZITE_AUTH_SERVER_ADDR: '[::]:3025' }]) {
      expect(() => loadAuthServerConfig({ ...base, MEZITE_DEMO_FIXTURES: 'true', ...exposed })).toThrow(/MEZITE_DEMO_FIXTURES: the demo fixtures publish a client secret and .* is not a loopback address/);
      expect(loadAuthServerConfig({ ...base, MEZITE_DEMO_FIXTURES: 'true', MEZITE_DEMO_FIXTURES_ON_NETWORK: 'true', ...exposed }).demoFixtures).toBe(true);
      expect(loadAuthServerConfig({ ...base, ...exposed }).demoFixtures).toBe(false);
    }
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

describe('auth-server config: session pepper rotation', () => {
  test('MEZITE_SESSION_PEPPER_PREVIOUS takes earlier peppers, comma-separated, into the key ring; a bad one is named', () => {
    const prev = randomBytes(32);
    const cfg = loadAuthServerConfig({ ...base, MEZITE_SESSION_PEPPER_PREVIOUS: prev.toString('base64') });
    expect(cfg.sessionPeppers.current.id).toBe(keyId(Buffer.from(base.MEZITE_SESSION_PEPPER, 'base64')));
    expect(cfg.sessionPeppers.previous.map((k) => k.id)).toEqual([keyId(prev)]);
    expect(loadAuthServerConfig(base).sessionPeppers.previous).toEqual([]);
    expect(() => loadAuthServerConfig({ ...base, MEZITE_SESSION_PEPPER_PREVIOUS: `${prev.toString('base64')},nope` })).toThrow(/MEZITE_SESSION_PEPPER_PREVIOUS: key 2/);
  });
});
