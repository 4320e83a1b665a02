import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '@mezite/identity';
import { createLogger, ensureInternalPki } from '@mezite/platform';
import { formatPublicKey, parseCertificate } from '@mezite/ssh';
import { type BotIdentity, generateBotKey, identityFromIssued } from './bot-identity';
import { DestinationError } from './destination';
import { FakeJoinServer } from './fake-join-server';
import { FakeKubernetesApi } from './fake-kubernetes-api';
import { loadIdentityConfig } from './identity-config';
import { inClusterSettings, KubernetesApiClient } from './kubernetes-api';
import { KubernetesSecretDestination, kubernetesSecretDestination, MANAGED_BY_LABEL, parseKubernetesSecretUrl } from './kubernetes-secret-destination';
import { MemoryIssuer } from './memory-issuer';
import { runMezd } from './mezd';
import type { RenewalLoop } from './renewal-loop';

let dir: string;
let api: FakeKubernetesApi;
let env: NodeJS.ProcessEnv;
const TOKEN = 'sa-token-one';
const clock = new FakeClock(new Date());
let issuer: MemoryIssuer;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mezd-kube-'));
  api = await FakeKubernetesApi.start({ dir: join(dir, 'pki') });
  api.tokens.add(TOKEN);
  api.namespaces.add('bots');
  env = {
    MEZITE_KUBE_API: api.url,
    MEZITE_KUBE_TOKEN_FILE: join(dir, 'token'),
    MEZITE_KUBE_CA_FILE: join(dir, 'ca.crt'),
    MEZITE_KUBE_NAMESPACE_FILE: join(dir, 'namespace'),
  };
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  writeFileSync(join(dir, 'ca.crt'), api.caCertPem);
  writeFileSync(join(dir, 'namespace'), 'bots');
});
afterEach(async () => {
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh identity, from an issuer of its own (a join token is redeemed once). */
async function identity(): Promise<BotIdentity> {
  issuer = new MemoryIssuer(clock);
  const key = generateBotKey();
  return identityFromIssued(await issuer.join({ joinToken: issuer.joinToken, publicKey: formatPublicKey(key), ttlMs: 3600_000 }), key, clock.now());
}
const destination = (url = 'kubernetes-secret://bots/demo-ssh') => kubernetesSecretDestination(parseKubernetesSecretUrl(url), env);
const decoded = (ns = 'bots', name = 'demo-ssh') => Object.fromEntries(Object.entries(api.secrets.get(`${ns}/${name}`)?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
const calls = () => api.requests.map((r) => `${r.method} ${r.status}`);

test('the first write creates an Opaque Secret whose data decodes to exactly the key, the certificate and known_hosts', async () => {
  const id = await identity();
  const dest = destination();
  expect(dest.description).toBe('kubernetes-secret://bots/demo-ssh');
  await dest.write(id);
  expect(calls()).toEqual(['GET 404', 'POST 201']);
  expect(api.requests.map((r) => r.path)).toEqual(['/api/v1/namespaces/bots/secrets/demo-ssh', '/api/v1/namespaces/bots/secrets']);
  expect(api.requests.every((r) => r.token === TOKEN)).toBe(true);
  const secret = api.secrets.get('bots/demo-ssh');
  expect(secret?.type).toBe('Opaque');
  expect(secret?.metadata.labels).toEqual({ [MANAGED_BY_LABEL]: 'mezd' });
  expect(decoded()).toEqual({
    ssh_key: id.privateKey.export({ type: 'sec1', format: 'pem' }),
    'ssh_key-cert.pub': `${id.certificate}\n`,
    known_hosts: `@cert-authority * ${issuer.hostCa.publicKeyLine}\n`,
  });
  // Stock OpenSSH reads the key from the Secret and it is the certificate's key.
  writeFileSync(join(dir, 'ssh_key'), decoded().ssh_key as string, { mode: 0o600 });
  const r = spawnSync('/usr/bin/ssh-keygen', ['-y', '-f', join(dir, 'ssh_key')], { encoding: 'utf8' });
  expect(r.stdout.trim()).toBe(formatPublicKey(parseCertificate(id.certificate).subjectKey.blob));
});

test('a second write replaces all three keys in one PUT carrying the resourceVersion it read; labels and annotations stay', async () => {
  const dest = destination();
  await dest.write(await identity());
  const first = api.secrets.get('bots/demo-ssh');
  const { uid, resourceVersion } = first?.metadata ?? {};
  first!.metadata.annotations = { 'team.example/owner': 'ci' };
  first!.metadata.labels = { ...first!.metadata.labels, tier: 'deploy' };
  first!.data.stale = Buffer.from('old').toString('base64');
  const second = await identity();
  api.requests.length = 0;
  await dest.write(second);
  expect(calls()).toEqual(['GET 200', 'PUT 200']);
  expect(api.requests[1]?.resourceVersion).toBe(resourceVersion);
  const secret = api.secrets.get('bots/demo-ssh');
  expect(secret?.metadata.uid).toBe(uid);
  expect(secret?.metadata.resourceVersion).not.toBe(resourceVersion);
  expect(secret?.metadata.annotations).toEqual({ 'team.example/owner': 'ci' });
  expect(secret?.metadata.labels).toEqual({ [MANAGED_BY_LABEL]: 'mezd', tier: 'deploy' });
  expect(Object.keys(decoded()).sort()).toEqual(['known_hosts', 'ssh_key', 'ssh_key-cert.pub']);
  expect(decoded()['ssh_key-cert.pub']).toBe(`${second.certificate}\n`);
  expect(decoded().ssh_key).toBe(second.privateKey.export({ type: 'sec1', format: 'pem' }));
});

test('a concurrent change (409 Conflict) is read again and retried; one that never stops gives up Unavailable after 3 rounds', async () => {
  const dest = destination();
  await dest.write(await identity());
  let interfere = 1;
  api.afterGet = (ns, name) => void (interfere-- > 0 && api.modify(ns, name));
  api.requests.length = 0;
  const id = await identity();
  await dest.write(id);
  expect(calls()).toEqual(['GET 200', 'PUT 409', 'GET 200', 'PUT 200']);
  expect(api.requests[1]?.resourceVersion).not.toBe(api.requests[3]?.resourceVersion);
  expect(decoded()['ssh_key-cert.pub']).toBe(`${id.certificate}\n`);

  api.afterGet = (ns, name) => api.modify(ns, name);
  api.requests.length = 0;
  const err = await dest.write(await identity()).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DestinationError);
  expect(err).toMatchObject({ code: 'Unavailable', destination: 'kubernetes-secret://bots/demo-ssh', message: expect.stringContaining('changed under each of 3 attempts') });
  expect(calls()).toEqual(['GET 200', 'PUT 409', 'GET 200', 'PUT 409', 'GET 200', 'PUT 409']);
});

test('a Secret created by someone else between the GET and the POST is updated instead', async () => {
  const dest = destination();
  api.failNext.push(404); // the GET says "not found"…
  api.secrets.set('bots/demo-ssh', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'demo-ssh', namespace: 'bots', resourceVersion: '7', uid: 'u' }, type: 'Opaque', data: {} });
  const id = await identity(); // …but it exists by the time of the POST
  await dest.write(id);
  expect(calls()).toEqual(['GET 404', 'POST 409', 'GET 200', 'PUT 200']);
  expect(decoded().known_hosts).toBe(`@cert-authority * ${issuer.hostCa.publicKeyLine}\n`);
});

test('a rejected token or missing RBAC is PermissionDenied naming the verbs to grant', async () => {
  writeFileSync(join(dir, 'token'), 'wrong-token');
  await expect(destination().write(await identity())).rejects.toMatchObject({
    code: 'PermissionDenied',
    message: expect.stringMatching(new RegExp(`did not accept the service account token in ${join(dir, 'token')} to get Secret bots/demo-ssh \\(401 Unauthorized: Unauthorized\\); the pod's service account needs get, create, update on secrets in namespace bots`)),
  });
  writeFileSync(join(dir, 'token'), TOKEN);
  api.allowedVerbs.delete('create');
  await expect(destination().write(await identity())).rejects.toMatchObject({
    code: 'PermissionDenied',
    message: expect.stringContaining('Kubernetes refused to create Secret bots/demo-ssh (403 Forbidden: secrets is forbidden: User "system:serviceaccount:bots:mezd" cannot create resource "secrets"'),
  });
  await expect(destination().write(await identity())).rejects.toThrow('needs get, create, update on secrets in namespace bots (a Role and a RoleBinding)');
});

test('an API server that is down or failing is Unavailable (the renewal loop retries); a missing namespace is FailedPrecondition', async () => {
  const dest = destination();
  api.failNext.push(503);
  await expect(dest.write(await identity())).rejects.toMatchObject({ code: 'Unavailable', message: expect.stringContaining('could not get Secret bots/demo-ssh (503 InternalError: injected failure)') });
  await expect(destination('kubernetes-secret://nowhere/x').write(await identity())).rejects.toMatchObject({ code: 'FailedPrecondition', message: expect.stringContaining('namespace nowhere does not exist') });
  await api.stop();
  await expect(dest.write(await identity())).rejects.toMatchObject({ code: 'Unavailable', message: `Kubernetes API server ${api.url} is unavailable: connection refused` });
});

test('TLS is verified against the service account CA', async () => {
  const other = await ensureInternalPki({ dir: join(dir, 'other-pki'), names: ['kubernetes'] });
  writeFileSync(join(dir, 'ca.crt'), other.caCertPem);
  await expect(destination().write(await identity())).rejects.toMatchObject({ code: 'Unavailable', message: expect.stringContaining('TLS') });
  expect(api.requests).toEqual([]);
});

test('the token file is read again for every write (projected tokens rotate)', async () => {
  const dest = destination();
  await dest.write(await identity());
  writeFileSync(join(dir, 'token'), 'sa-token-two');
  api.tokens.clear();
  api.tokens.add('sa-token-two');
  await dest.write(await identity());
  expect(api.requests.map((r) => r.token)).toEqual([TOKEN, TOKEN, 'sa-token-two', 'sa-token-two']);
});

test('in-cluster settings: the service host and port, the namespace file, and clear failures outside a pod', async () => {
  expect(inClusterSettings({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' })).toEqual({
    server: 'https://10.96.0.1:443',
    tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
    caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
    namespaceFile: '/var/run/secrets/kubernetes.io/serviceaccount/namespace',
  });
  expect(inClusterSettings({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }).server).toBe('https://[fd00::1]:443');
  expect(() => inClusterSettings({})).toThrow('not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (MEZITE_KUBE_API overrides them)');
  expect(() => inClusterSettings({ MEZITE_KUBE_API: 'http://127.0.0.1:8001' })).toThrow('must be an https:// URL');
  // kubernetes-secret:///NAME: the pod's namespace.
  const dest = destination('kubernetes-secret:///demo-ssh');
  expect(dest.description).toBe('kubernetes-secret://bots/demo-ssh');
  await dest.write(await identity());
  expect(api.secrets.has('bots/demo-ssh')).toBe(true);
  expect(() => kubernetesSecretDestination({ name: 'x' }, { ...env, MEZITE_KUBE_NAMESPACE_FILE: join(dir, 'none') })).toThrow(/cannot read the pod's namespace from .*none \(ENOENT\)/);
  expect(() => kubernetesSecretDestination({ name: 'x' }, { ...env, MEZITE_KUBE_TOKEN_FILE: join(dir, 'none') })).toThrow(/cannot read the service account token .*none \(ENOENT\); the pod needs a service account token/);
});

test('--destination parses kubernetes-secret:// URLs and refuses bad names or other schemes', () => {
  const user = { env: {}, isRoot: false, home: '/home/ci' };
  const load = (d: string) => loadIdentityConfig({ 'auth-server': 'a:3025', destination: d }, undefined, user);
  expect(load('kubernetes-secret://bots/demo-ssh')).toMatchObject({ destination: 'kubernetes-secret://bots/demo-ssh', kubernetesSecret: { namespace: 'bots', name: 'demo-ssh' } });
  expect(load('kubernetes-secret:///demo.ssh').kubernetesSecret).toEqual({ name: 'demo.ssh' });
  expect(load('/srv/certs')).not.toHaveProperty('kubernetesSecret');
  expect(() => load('kubernetes-secret://bots')).toThrow('is not kubernetes-secret://NAMESPACE/NAME');
  expect(() => load('kubernetes-secret://Bots/x')).toThrow('"Bots" is not a valid namespace');
  expect(() => load('kubernetes-secret://bots/x_y')).toThrow('"x_y" is not a valid Secret name');
  expect(() => load('kubernetes-secrets://bots/x')).toThrow('unknown scheme "kubernetes-secrets"; give a directory or kubernetes-secret://NAMESPACE/NAME');
});

test('the client needs its settings', () => {
  expect(() => new KubernetesApiClient({ server: '', tokenFile: 'a', caFile: 'b', namespaceFile: 'c' })).toThrow('server is required');
  expect(() => new KubernetesSecretDestination({ namespace: 'a', name: '', client: new KubernetesApiClient(inClusterSettings(env)) })).toThrow('name is required');
});

test('mezd identity start --destination=kubernetes-secret://… joins, renews and writes the Secret, never logging the key', async () => {
  const fake = await FakeJoinServer.start({ dir: join(dir, 'join-pki') });
  try {
    const home = join(dir, 'home');
    const run = async (args: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await runMezd(['identity', 'start', '--auth-server', fake.address, '--destination', 'kubernetes-secret://bots/github-deploy-ssh', '--data-dir', join(dir, 'state'), '--one-shot', ...args], {
        stdout: (s) => void (stdout += s),
        stderr: (s) => void (stderr += s),
        environment: { env: {}, isRoot: false, home: dir },
        env: { ...env, MEZITE_HOME: home },
        signals: new EventEmitter(),
      });
      return { code, stdout, stderr };
    };
    const joined = await run(['--join-token', fake.joinToken, '--ca-pin', fake.caPin]);
    expect(joined.stderr).toBe('');
    expect(joined.code).toBe(0);
    expect(calls()).toEqual(['GET 404', 'POST 201']);
    const cert1 = parseCertificate(decoded('bots', 'github-deploy-ssh')['ssh_key-cert.pub'] as string);
    expect(cert1.principals).toEqual(['deploy', 'ci']);
    expect(decoded('bots', 'github-deploy-ssh').known_hosts).toBe(`@cert-authority * ${fake.hostCa.publicKeyLine}\n`);

    const renewed = await run([]);
    expect(renewed.code).toBe(0);
    expect(fake.renewals).toEqual([{ presentedGeneration: 1, signatureValid: true, issuedGeneration: 2 }]);
    expect(calls()).toEqual(['GET 404', 'POST 201', 'GET 200', 'PUT 200']);
    const data = decoded('bots', 'github-deploy-ssh');
    const cert2 = parseCertificate(data['ssh_key-cert.pub'] as string);
    expect(cert2.serial).not.toBe(cert1.serial);
    writeFileSync(join(dir, 'key'), data.ssh_key as string, { mode: 0o600 });
    expect(spawnSync('/usr/bin/ssh-keygen', ['-y', '-f', join(dir, 'key')], { encoding: 'utf8' }).stdout.trim()).toBe(formatPublicKey(cert2.subjectKey.blob));

    // No file for msh to find: the Secret is not a directory.
    expect(existsSync(join(home, 'identity.json'))).toBe(false);
    const logs = joined.stdout + renewed.stdout;
    expect(logs).not.toContain('PRIVATE KEY');
    expect(logs).not.toContain(api.secrets.get('bots/github-deploy-ssh')?.data.ssh_key);
    expect(logs).not.toContain(TOKEN);

    // Without RBAC: one line naming the verbs, and the log does not blame the auth server.
    api.allowedVerbs.delete('update');
    const refused = await run([]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^mezd: Forbidden: Kubernetes refused to update Secret bots\/github-deploy-ssh \(403 Forbidden: .*\); the pod's service account needs get, create, update on secrets in namespace bots/);
    const last = JSON.parse(refused.stdout.trim().split('\n').at(-1) as string) as Record<string, unknown>;
    expect(last).toMatchObject({ level: 'error', msg: 'destination write failed', code: 'PermissionDenied', destination: 'kubernetes-secret://bots/github-deploy-ssh' });

    // Outside a pod, before any contact with the auth server.
    const renewalsBefore = fake.renewals.length;
    let outsideStderr = '';
    const outside = await runMezd(['identity', 'start', '--auth-server', fake.address, '--destination', 'kubernetes-secret:///x', '--data-dir', join(dir, 'state'), '--one-shot'], {
      stdout: () => undefined,
      stderr: (s) => void (outsideStderr += s),
      environment: { env: {}, isRoot: false, home: dir },
      env: {},
      signals: new EventEmitter(),
    });
    expect(outside).toBe(1);
    expect(outsideStderr).toBe('mezd: Failed precondition: not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (MEZITE_KUBE_API overrides them)\n');
    expect(fake.renewals.length).toBe(renewalsBefore);
  } finally {
    await fake.stop();
  }
});

test('daemon mode: a refused Secret write is logged as the destination\'s failure and retried; a grant resumes it', async () => {
  const fake = await FakeJoinServer.start({ dir: join(dir, 'join-pki') });
  const signals = new EventEmitter();
  let loop: RenewalLoop | undefined;
  let stdout = '';
  try {
    const running = runMezd(['identity', 'start', '--auth-server', fake.address, '--destination', 'kubernetes-secret:///demo-ssh', '--data-dir', join(dir, 'state'), '--join-token', fake.joinToken, '--ca-pin', fake.caPin], {
      stdout: (s) => void (stdout += s),
      stderr: () => undefined,
      environment: { env: {}, isRoot: false, home: dir },
      env,
      signals,
      onLoop: (l) => (loop = l),
    });
    const until = async (cond: () => boolean) => {
      for (const end = Date.now() + 10_000; !cond(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() > end) throw new Error('timed out');
    };
    await until(() => api.secrets.has('bots/demo-ssh') && loop?.nextAttemptAt !== undefined);
    const before = api.secrets.get('bots/demo-ssh')?.data;
    api.allowedVerbs.delete('update');
    await loop?.renewNow();
    expect(api.secrets.get('bots/demo-ssh')?.data).toEqual(before);
    const logs = () => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs().find((l) => l.msg === 'destination write failed')).toMatchObject({ level: 'error', code: 'PermissionDenied', destination: 'kubernetes-secret://bots/demo-ssh' });
    expect(logs().some((l) => l.msg === 'renewal refused by the auth server')).toBe(false);
    expect((loop?.nextAttemptAt?.getTime() ?? 0) - Date.now()).toBeLessThanOrEqual(1200);
    api.allowedVerbs.add('update');
    await loop?.renewNow();
    expect(api.secrets.get('bots/demo-ssh')?.data).not.toEqual(before);
    signals.emit('SIGTERM');
    expect(await running).toBe(0);
  } finally {
    await fake.stop();
  }
});

test('the destination logs its Secret and resourceVersion, never the data', async () => {
  let out = '';
  const logger = createLogger({ service: 'test', level: 'debug', write: (l) => void (out += l + '\n') });
  const dest = new KubernetesSecretDestination({ namespace: 'bots', name: 'demo-ssh', client: new KubernetesApiClient(inClusterSettings(env)), logger });
  await dest.write(await identity());
  await dest.write(await identity());
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.map((l) => l.msg)).toEqual(['kubernetes secret created', 'kubernetes secret updated']);
  expect(lines[0]).toMatchObject({ destination: 'kubernetes-secret://bots/demo-ssh', resource_version: expect.any(String) });
  expect(out).not.toContain('PRIVATE KEY');
  expect(out).not.toContain(api.secrets.get('bots/demo-ssh')?.data.ssh_key);
});
