import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeNeeding } from '@mezite/identity/testing';
import { REPO_ROOT, runBin } from '../harness/cli';
import { freePort } from '../harness/ports';
import { CI_DEPLOYER_ROLE } from '../harness/roles';
import { ensureLoginUser, runSsh, sshdUnavailable, startSshd, type Sshd } from '../harness/sshd';
import { TestStack } from '../harness/test-stack';

/** What this test uses of the auth-server's test OIDC issuer (built with the auth server; jose is its dependency, not test/'s). */
interface Issuer {
  url: string;
  job: Record<string, unknown>;
  down: boolean;
  actionsEnv(): Record<string, string>;
  githubClaims(over?: Record<string, unknown>): Record<string, unknown>;
  gitlabClaims(over?: Record<string, unknown>): Record<string, unknown>;
  kubernetesClaims(ns: string, sa: string, over?: Record<string, unknown>): Record<string, unknown>;
  mint(claims: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}
/** The daemon's fake Kubernetes API server, as this test uses it. */
interface KubeApi {
  url: string;
  caCertPem: string;
  tokens: Set<string>;
  namespaces: Set<string>;
  secrets: Map<string, { data: Record<string, string> }>;
  stop(): Promise<void>;
}
const { TestOidcIssuer } = require(join(REPO_ROOT, 'services/auth-server/dist/domain/join-methods/test-issuer.js')) as { TestOidcIssuer: { start(): Promise<Issuer> } };

/**
 * Issue 15: a simulated GitHub Actions job (the runner's ID-token endpoint served by a
 * test issuer on 127.0.0.1) joins with `mezd identity start --one-shot
 * --join-method=github` and the resource's name, no secret; stock sshd accepts the
 * certificate; each run is an instance of its own. A GitLab job (the JWT in a variable
 * it names) and a pod (a projected token file) do the same.
 */
describeNeeding(sshdUnavailable(), 'delegated joins: a GitHub Actions job, a GitLab job and a pod join with no secret', () => {
  let stack: TestStack;
  let issuer: Issuer;
  let sshd: Sshd;
  let dir: string;

  const mezctl = (args: string[]) => runBin('mezctl', args, { env: stack.cliEnv, cwd: dir });
  const job = (run: string, extra: string[] = []) =>
    runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, '--join-method=github', '--join-token=gha-deploy', `--destination=${join(dir, run, 'certs')}`, `--data-dir=${join(dir, run, 'state')}`, '--one-shot', ...extra], { env: { HOME: dir, ...issuer.actionsEnv() }, cwd: dir, timeoutMs: 60_000 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mezite-gha-'));
    chmodSync(dir, 0o755);
    ensureLoginUser('deploy');
    issuer = await TestOidcIssuer.start();
    stack = await TestStack.start();
  }, 120_000);
  afterAll(async () => {
    await sshd?.stop();
    await stack?.destroy();
    await issuer?.stop();
  });

  test('the admin creates the role, the bot and the join-token resource', async () => {
    writeFileSync(join(dir, 'role.yaml'), CI_DEPLOYER_ROLE);
    expect((await mezctl(['create', '-f', 'role.yaml'])).stderr).toBe('');
    expect((await mezctl(['bots', 'add', '--name=github-deploy', '--roles=ci-deployer'])).stderr).toBe('');
    writeFileSync(
      join(dir, 'token.yaml'),
      ['kind: join_token', 'metadata:', '  name: gha-deploy', 'spec:', '  bot: github-deploy', '  join_method: github', '  allow:', '    - repository: octo-org/octo-repo', '      ref: refs/heads/main', '  github:', `    issuer: ${issuer.url}`, ''].join('\n'),
    );
    const r = await mezctl(['create', '-f', 'token.yaml']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('join token "gha-deploy" has been created (bot github-deploy, method github, audience mezite:default/gha-deploy)\n');
    const ls = JSON.parse((await mezctl(['join-tokens', 'ls', '--output', 'json'])).stdout) as { items: Array<{ name: string; join_method: string; allow: unknown[] }> };
    expect(ls.items).toEqual([expect.objectContaining({ name: 'gha-deploy', join_method: 'github', allow: [{ repository: 'octo-org/octo-repo', ref: 'refs/heads/main' }] })]);
  });

  test('two runs of the job join with no secret: two instances, and stock sshd accepts the certificate', async () => {
    for (const run of ['run-1', 'run-2']) {
      const r = await job(run);
      expect({ code: r.code, stderr: r.stderr.replace(/^mezd: warning: trusting the auth server's CA .*\n/, '') }).toEqual({ code: 0, stderr: '' });
    }
    const instances = JSON.parse((await mezctl(['bots', 'instances', 'ls', 'github-deploy', '--output', 'json'])).stdout) as { items: Array<{ join_method: string }> };
    expect(instances.items).toHaveLength(2);
    expect(instances.items.every((i) => i.join_method === 'github')).toBe(true);

    const user = await mezctl(['ca', 'export', '--type=user']);
    writeFileSync(join(dir, 'user_ca.pub'), user.stdout);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'ssh_host_ed25519_key')]);
    expect((await mezctl(['ca', 'sign-host', `--public-key=${join(dir, 'ssh_host_ed25519_key.pub')}`, '--principals=localhost', '--ttl=1h', `--out=${join(dir, 'ssh_host_ed25519_key-cert.pub')}`])).stderr).toBe('');
    sshd = await startSshd({ dir, port: await freePort(), hostKey: join(dir, 'ssh_host_ed25519_key'), hostCert: join(dir, 'ssh_host_ed25519_key-cert.pub'), trustedUserCaKeys: join(dir, 'user_ca.pub') });
    const certs = join(dir, 'run-2', 'certs');
    const ok = await runSsh(['-i', join(certs, 'ssh_key'), '-o', `CertificateFile=${join(certs, 'ssh_key-cert.pub')}`, '-o', `UserKnownHostsFile=${join(certs, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-p', String(sshd.port), 'deploy@localhost', 'id', '-un']);
    expect(ok.stdout).toBe('deploy\n');
    expect(ok.code).toBe(0);
  });

  test('a job of another branch is refused with the one answer, and the audit log says which claim', async () => {
    issuer.job = { ref: 'refs/heads/feature', sub: 'repo:octo-org/octo-repo:ref:refs/heads/feature' };
    const r = await job('run-feature');
    issuer.job = {};
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Unauthenticated: invalid join token/);
    const audit = await mezctl(['audit', 'ls', '--type=bot.join', '--output', 'json']);
    expect(audit.stdout).toMatch(/no allow rule matched/);
    expect(audit.stdout).toMatch(/ref: wanted \\"refs\/heads\/main\\", got \\"refs\/heads\/feature\\"/);
  });

  const sshWith = async (certs: string) =>
    runSsh(['-i', join(certs, 'ssh_key'), '-o', `CertificateFile=${join(certs, 'ssh_key-cert.pub')}`, '-o', `UserKnownHostsFile=${join(certs, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-p', String(sshd.port), 'deploy@localhost', 'id', '-un']);
  const resource = (name: string, method: string, rule: string, setting: string) =>
    ['kind: join_token', 'metadata:', `  name: ${name}`, 'spec:', '  bot: github-deploy', `  join_method: ${method}`, '  allow:', `    - ${rule}`, `  ${method}:`, `    ${setting}`, ''].join('\n');
  const instancesOf = async (method: string) => ((JSON.parse((await mezctl(['bots', 'instances', 'ls', 'github-deploy', '--output', 'json'])).stdout) as { items: Array<{ join_method: string }> }).items.filter((i) => i.join_method === method));

  test('a GitLab job joins with the id_tokens JWT in the variable it names; sshd accepts the certificate', async () => {
    writeFileSync(join(dir, 'gitlab.yaml'), resource('gitlab-deploy', 'gitlab', 'project_path: my-group/my-project', `domain: ${issuer.url}`));
    expect((await mezctl(['create', '-f', 'gitlab.yaml'])).stderr).toBe('');
    const jwt = await issuer.mint(issuer.gitlabClaims({ aud: 'mezite:default/gitlab-deploy' }));
    const r = await runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, '--join-method=gitlab', '--join-token=gitlab-deploy', '--id-token-env=GITLAB_MEZITE_JWT', `--destination=${join(dir, 'gl', 'certs')}`, `--data-dir=${join(dir, 'gl', 'state')}`, '--one-shot'], { env: { HOME: dir, GITLAB_MEZITE_JWT: jwt }, cwd: dir, timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(await instancesOf('gitlab')).toHaveLength(1);
    expect((await sshWith(join(dir, 'gl', 'certs'))).stdout).toBe('deploy\n');
  });

  test('a pod joins with its projected service-account token file; sshd accepts the certificate', async () => {
    writeFileSync(join(dir, 'k8s.yaml'), resource('k8s-deploy', 'kubernetes', 'service_account: deploy:mezd', `issuer: ${issuer.url}`));
    expect((await mezctl(['create', '-f', 'k8s.yaml'])).stderr).toBe('');
    writeFileSync(join(dir, 'sa-token'), await issuer.mint(issuer.kubernetesClaims('deploy', 'mezd', { aud: ['mezite:default/k8s-deploy'] })));
    const r = await runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, '--join-method=kubernetes', '--join-token=k8s-deploy', `--id-token-file=${join(dir, 'sa-token')}`, `--destination=${join(dir, 'pod', 'certs')}`, `--data-dir=${join(dir, 'pod', 'state')}`, '--one-shot'], { env: { HOME: dir }, cwd: dir, timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(await instancesOf('kubernetes')).toHaveLength(1);
    expect((await sshWith(join(dir, 'pod', 'certs'))).stdout).toBe('deploy\n');
    // The same token file again (a second pod would have its own): the jti is used.
    const again = await runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, '--join-method=kubernetes', '--join-token=k8s-deploy', `--id-token-file=${join(dir, 'sa-token')}`, `--destination=${join(dir, 'pod2', 'certs')}`, `--data-dir=${join(dir, 'pod2', 'state')}`, '--one-shot'], { env: { HOME: dir }, cwd: dir, timeoutMs: 60_000 });
    expect(again.stderr).toMatch(/Unauthenticated: invalid join token/);
  });

  test("a pod joins with its projected token and writes its identity as a Kubernetes Secret (mezd's Secret destination); sshd accepts what the Secret holds", async () => {
    // The API server of the pod's cluster: the daemon's fake, which follows the real API's
    // verbs, statuses and optimistic concurrency (packages/daemon/src/fake-kubernetes-api.ts).
    const { FakeKubernetesApi } = require(join(REPO_ROOT, 'packages/daemon/dist/fake-kubernetes-api.js')) as { FakeKubernetesApi: { start(o: { dir: string }): Promise<KubeApi> } };
    const api = await FakeKubernetesApi.start({ dir: join(dir, 'kube-pki') });
    try {
      api.tokens.add('pod-sa-token');
      api.namespaces.add('bots');
      writeFileSync(join(dir, 'kube-token'), 'pod-sa-token\n');
      writeFileSync(join(dir, 'kube-ca.crt'), api.caCertPem);
      writeFileSync(join(dir, 'kube-namespace'), 'bots');
      writeFileSync(join(dir, 'sa-token-2'), await issuer.mint(issuer.kubernetesClaims('deploy', 'mezd', { aud: ['mezite:default/k8s-deploy'] })));
      const kubeEnv = { MEZITE_KUBE_API: api.url, MEZITE_KUBE_TOKEN_FILE: join(dir, 'kube-token'), MEZITE_KUBE_CA_FILE: join(dir, 'kube-ca.crt'), MEZITE_KUBE_NAMESPACE_FILE: join(dir, 'kube-namespace') };
      const r = await runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, '--join-method=kubernetes', '--join-token=k8s-deploy', `--id-token-file=${join(dir, 'sa-token-2')}`, '--destination=kubernetes-secret:///mezd-ssh', `--data-dir=${join(dir, 'pod3', 'state')}`, '--one-shot'], { env: { HOME: dir, ...kubeEnv }, cwd: dir, timeoutMs: 60_000 });
      expect({ code: r.code, errors: r.stderr.split('\n').filter((l) => l && !l.startsWith('mezd: warning: trusting')) }).toEqual({ code: 0, errors: [] });
      const secret = api.secrets.get('bots/mezd-ssh');
      expect(Object.keys(secret?.data ?? {}).sort()).toEqual(['known_hosts', 'ssh_key', 'ssh_key-cert.pub']);
      // A container mounting the Secret: its files, as the kubelet writes them.
      const mounted = join(dir, 'mounted');
      mkdirSync(mounted, { recursive: true });
      for (const [k, v] of Object.entries(secret?.data ?? {})) writeFileSync(join(mounted, k), Buffer.from(v, 'base64'), { mode: k === 'ssh_key' ? 0o600 : 0o644 });
      expect((await sshWith(mounted)).stdout).toBe('deploy\n');
    } finally {
      await api.stop();
    }
  });

  test('join-tokens test --name explains a captured token against the stored resource', async () => {
    writeFileSync(join(dir, 'feature.jwt'), await issuer.mint(issuer.githubClaims({ ref: 'refs/heads/feature', aud: 'mezite:default/gha-deploy' })));
    const r = await mezctl(['join-tokens', 'test', '--file', 'feature.jwt', '--name', 'gha-deploy']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^REFUSED/);
    expect(r.stdout).toMatch(/^rule 0: no match: ref: wanted "refs\/heads\/main", got "refs\/heads\/feature"$/m);
  });

  test('join-tokens show prints the rules; after join-tokens rm the job is refused', async () => {
    const show = await mezctl(['join-tokens', 'show', 'gha-deploy']);
    expect(show.stdout).toMatch(/^Join method: github$/m);
    expect(show.stdout).toMatch(/^  0: ref=refs\/heads\/main repository=octo-org\/octo-repo$/m);
    const rm = await mezctl(['join-tokens', 'rm', 'gha-deploy']);
    expect(rm.stdout).toBe('join token "gha-deploy" has been deleted\n');
    const r = await job('run-after-rm');
    expect(r.stderr).toMatch(/Unauthenticated: invalid join token/);
    expect((await mezctl(['join-tokens', 'show', 'gha-deploy'])).stderr).toMatch(/Not found: join token "gha-deploy" not found/);
  });

  test('outside GitHub Actions (no id-token permission) mezd says what is missing', async () => {
    const r = await runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, '--join-method=github', '--join-token=gha-deploy', `--destination=${join(dir, 'x', 'certs')}`, `--data-dir=${join(dir, 'x', 'state')}`, '--one-shot'], { env: { HOME: dir }, cwd: dir, timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/permissions: id-token: write/);
  });
});
