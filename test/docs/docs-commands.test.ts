import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { testNeeding } from '@mezite/identity/testing';
import { BIN, REPO_ROOT, runBin } from '../harness/cli';
import { freePort } from '../harness/ports';
import { CI_DEPLOYER_ROLE } from '../harness/roles';
import { ensureLoginUser, sshdUnavailable, startSshd, type Sshd } from '../harness/sshd';
import { TestStack } from '../harness/test-stack';
import { missingOutput, readBlocks, SHELL_LANGS, summary, toScript, type DocBlock } from './doc-blocks';

/**
 * "Every command in the docs is run by a test": each fenced block of README.md and
 * docs/*.md runs here, as written, against one real stack on loopback ports — shell
 * blocks with `bash -euo pipefail` (bin/ on PATH, a temp dir as cwd and as HOME),
 * configuration blocks through the tool that reads them (`sshd -t`, `ssh -G`, the
 * GitHub workflow's steps, Ansible). The only changes to a block's text are the
 * placeholders of SUBSTITUTIONS below. An HTML comment right before a fence says what
 * a block needs or why it cannot run here:
 *
 *   <!-- doc-test: needs=role,sshd expect-exit=0 -->
 *   <!-- doc-test: skip — needs a Kubernetes cluster (kubectl apply) -->
 *
 * Keys: `needs` (FIXTURES, comma-separated); `expect-exit` (default 0; for a workflow,
 * its last step's); `daemon` + `wait-for=PATH` (a long-running command: it passes when
 * PATH appears and is stopped when the page is done); `check=sshd_config|ssh_config|
 * ini|github-workflow` (a block that is not a command) with `host=` (ssh_config),
 * `copy=SRC:DST,…` (sshd_config: the files the prose says to copy) and
 * `skip-step="NAME: reason"` (workflow); `file=NAME` (also written to the cwd under
 * that name, for the blocks after it); `heredoc=role` (the skipped block's heredoc is a
 * role: `mezctl create -f` must accept it). Expected stdout: `# Output: text` lines in
 * a shell block (`…` matches anything), or a console block's lines without `$ `.
 *
 * Pages share the stack and run in PAGES order, blocks in document order; each page
 * starts with no bots, nodes or roles, a fresh HOME, cwd and fake root (`/etc/ssh`,
 * `/var/lib/mezite`), so a page is read on its own.
 *
 * Nothing here is a skipped test: a block that cannot run on any test machine
 * (`skip — reason`, a workflow's `uses:` or `skip-step`) is checked as far as it can be
 * here (`bash -n`, a released action), and a block whose fixture needs a binary or
 * privilege this machine lacks (sshd, root, Ansible) is skipped only outside CI
 * (`testNeeding`): with `CI=true` it fails.
 */

/**
 * Page order. OPERATIONS.md and openssh.md rotate the User CA, whose `complete` phase
 * is refused while certificates of the old CA are valid: they run before any page has
 * a bot holding a certificate (that is the "wait" their blocks describe). Pages not
 * listed (DECISIONS.md, SECURITY.md, new ones) run after these, in name order.
 */
const ORDER = ['README.md', 'docs/OPERATIONS.md', 'docs/openssh.md', 'docs/github-actions.md', 'docs/ansible.md', 'docs/mezd-identity.md'];
const PAGES = [...ORDER.filter((f) => existsSync(join(REPO_ROOT, f))), ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`).filter((f) => !ORDER.includes(f)).sort()];

/** What one page's blocks share while it runs. */
interface Page {
  /** Per page: `root` (a fake `/` for /etc/ssh and /var/lib/mezite), `home`, `work` (the cwd). */
  dir: string;
  root: string;
  home: string;
  work: string;
  /** The port of the stock sshd that plays `web-server-01` / `10.0.0.5:22`. */
  sshPort: number;
  /** Join tokens printed by earlier blocks of the page and not yet used. */
  tokens: { bot?: string | undefined; node?: string | undefined };
  /** Long-running commands (process groups), stopped when the page is done. */
  daemons: ChildProcess[];
  sshd?: Sshd;
  minted: number;
}

let stack: TestStack;
let caPin = '';
let page: Page;
/** Whether a page may have left bots, nodes or roles behind (the stack starts with none). */
let inventoryDirty = false;

/**
 * The placeholders of the docs and what runs in their place, in priority order (one
 * pass: a replacement is never replaced again). A value is computed only when its
 * placeholder occurs in the block.
 */
const SUBSTITUTIONS: Array<{ doc: string; test: () => string | Promise<string>; why: string; commandsOnly?: true }> = [
  { doc: 'https://mezite.example.com', test: () => stack.httpUrl, why: "the stack's HTTP port (discovery, OAuth2)" },
  { doc: 'mezite.example.com:3025', test: () => `localhost:${stack.ports.auth}`, why: "the stack's public gRPC address" },
  { doc: 'tok-bot-…', test: () => botToken(), why: 'the bot join token an earlier block of the page printed, else one the test mints', commandsOnly: true },
  { doc: '${{ secrets.MEZITE_BOT_TOKEN }}', test: () => botToken(), why: 'the repository secret: the token the page told you to store', commandsOnly: true },
  { doc: 'tok-node-…', test: () => nodeToken(), why: 'the node join token an earlier block of the page printed', commandsOnly: true },
  { doc: 'sha256:…', test: () => caPin, why: "the stack's CA pin (ca_pin of /.well-known/mezite)" },
  { doc: '10.0.0.5:22', test: () => `127.0.0.1:${page.sshPort}`, why: 'the node: a stock sshd the test runs on a free loopback port' },
  { doc: 'deploy@10.0.0.5', test: () => `-p ${page.sshPort} deploy@127.0.0.1`, why: 'the same, for ssh' },
  { doc: 'ansible_host=10.0.0.5', test: () => `ansible_host=127.0.0.1 ansible_port=${page.sshPort}`, why: 'the same, for Ansible' },
  { doc: '10.0.0.5', test: () => '127.0.0.1', why: "the node's address" },
  { doc: 'mezd identity start --data-dir=', test: () => 'mezd identity start --data-dir=', why: 'a block that names its own data dir keeps it (its /var/lib/mezite/ path is still under the fake root)', commandsOnly: true },
  { doc: 'mezd identity start', test: () => `mezd identity start --data-dir=${page.root}/var/lib/mezite/identity`, why: "root's default data dir, under the page's fake root", commandsOnly: true },
  { doc: 'mezd node start', test: () => `mezd node start --data-dir=${page.root}/var/lib/mezite/node --refresh-interval=1s`, why: "the same, and a CA rotation reaches sshd in 1 s instead of the default minute", commandsOnly: true },
  { doc: '/etc/ssh/', test: () => `${page.root}/etc/ssh/`, why: "the node's files, under the page's fake root (the test's host key is there)" },
  { doc: '/var/lib/mezite/', test: () => `${page.root}/var/lib/mezite/`, why: "mezd's files, under the page's fake root" },
  { doc: '/tmp/mezite-certs', test: () => `${page.root}/tmp/mezite-certs`, why: "the runner's temp dir, under the page's fake root" },
  { doc: '$PWD/bin', test: () => BIN, why: 'the checkout (blocks run in a temp dir)' },
  { doc: 'https://token.actions.githubusercontent.com', test: () => githubIssuer().then((i) => i.url), why: "GitHub's issuer of Actions ID tokens: a test issuer on 127.0.0.1 (needs=github-oidc)" },
  { doc: 'https://kubernetes.default.svc.cluster.local', test: () => githubIssuer().then((i) => i.url), why: "the cluster's service-account issuer: the same test issuer" },
  { doc: 'gitlab.example.com', test: () => githubIssuer().then((i) => i.url), why: 'the GitLab instance: the same test issuer' },
  { doc: '/var/run/secrets/tokens/', test: () => `${page.root}/var/run/secrets/tokens/`, why: "the pod's projected token, under the page's fake root (needs=kubernetes-sa-token)" },
];

/** What the docs test uses of the auth-server's test OIDC issuer (built with the auth server; jose is its dependency, not test/'s). */
interface Issuer {
  url: string;
  actionsEnv(): Record<string, string>;
  gitlabClaims(over?: Record<string, unknown>): Record<string, unknown>;
  kubernetesClaims(ns: string, sa: string, over?: Record<string, unknown>): Record<string, unknown>;
  mint(claims: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}
let issuer: Promise<Issuer> | undefined;
/** The test issuer, started once: plays token.actions.githubusercontent.com and the runner's ID-token endpoint. */
function githubIssuer(): Promise<Issuer> {
  const m = require(join(REPO_ROOT, 'services/auth-server/dist/domain/join-methods/test-issuer.js')) as { TestOidcIssuer: { start(): Promise<Issuer> } };
  issuer ??= m.TestOidcIssuer.start();
  return issuer;
}
/** The runner's ID-token variables, once a block of the page needed the issuer. */
let actionsEnv: Record<string, string> = {};

/** What every block's shell gets: bin/ first on PATH, the page's HOME, and the stack's data dir (mezctl is its bootstrap admin, as on the machine that runs `pnpm start`). */
const environment = (): NodeJS.ProcessEnv => ({ PATH: `${BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: page.home, LANG: 'C.UTF-8', MEZITE_DATA_DIR: stack.dataDir, ...actionsEnv });

/** Setups a block may ask for with `needs=`. */
const FIXTURES: Record<string, () => Promise<void>> = {
  /** Seed 002's ci-deployer role exists (deploy on env=staging|production, never root). */
  role: ensureRole,
  /** A bot joined with `mezd identity start` into /var/lib/mezite/identity/certs, as the page's earlier sections describe. */
  'bot-identity': joinBot,
  /** web-server-01 enrolled as docs/openssh.md says (nodes add, mezd node start), with its stock sshd running. */
  node: enrollNode,
  /** The stock sshd of web-server-01, including the snippet `mezd node` wrote, trusting the current User CA. */
  sshd: startNodeSshd,
  /** Ansible is checked when the test is registered (skipped when not installed, a failure in CI). */
  ansible: async () => undefined,
  /** A GitHub Actions job with `permissions: id-token: write`: the runner's ID-token endpoint and the issuer, on 127.0.0.1. */
  'github-oidc': async () => {
    actionsEnv = (await githubIssuer()).actionsEnv();
  },
  /** A GitLab job whose id_tokens put a JWT for docs/gitlab-ci.md's resource in MEZITE_ID_TOKEN. */
  'gitlab-oidc': async () => {
    const i = await githubIssuer();
    actionsEnv = { MEZITE_ID_TOKEN: await i.mint(i.gitlabClaims({ aud: 'mezite:default/gitlab-deploy' })) };
  },
  /** A pod of deploy:mezd whose projected token (audience of docs/kubernetes-join.md's resource) is at /var/run/secrets/tokens/mezite-token. */
  'kubernetes-sa-token': async () => {
    const i = await githubIssuer();
    mkdirSync(join(page.root, 'var/run/secrets/tokens'), { recursive: true });
    writeFileSync(join(page.root, 'var/run/secrets/tokens/mezite-token'), await i.mint(i.kubernetesClaims('deploy', 'mezd', { aud: ['mezite:default/k8s-deploy'] })));
  },
};

/** Why a fixture cannot be had on this machine, if so (the block is then reported as skipped). */
function unavailable(needs: string[]): string | undefined {
  const ssh = sshdUnavailable();
  if (ssh && needs.some((n) => ['node', 'sshd', 'ansible'].includes(n))) return ssh;
  if (needs.includes('ansible') && !onPath('ansible')) return 'Ansible not installed (apt-get install ansible-core; .ci/run does)';
  return undefined;
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
}

/**
 * Puts the test's values in place of the placeholders. In expected output
 * (`forOutput`), tokens stay `…` (any text) and commands are not rewritten.
 */
async function substitute(text: string, forOutput = false): Promise<string> {
  const used = SUBSTITUTIONS.filter((s) => text.includes(s.doc) && !(forOutput && s.commandsOnly));
  if (used.length === 0) return text;
  const values = new Map<string, string>();
  for (const s of used) values.set(s.doc, await s.test());
  const re = new RegExp(used.map((s) => s.doc.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return text.replace(re, (m) => values.get(m) as string);
}

async function mezctl(args: string[], input?: string) {
  const r = await runBin('mezctl', args, { env: environment(), cwd: page.work, ...(input !== undefined ? { input } : {}) });
  if (r.code !== 0) throw new Error(`mezctl ${args.join(' ')} (test setup) failed: ${r.stderr}`);
  return r.stdout;
}

async function ensureRole(): Promise<void> {
  const roles = JSON.parse(await mezctl(['roles', 'ls', '--output', 'json'])) as { items: Array<{ metadata: { name: string } }> };
  if (roles.items.some((r) => r.metadata.name === 'ci-deployer')) return;
  writeFileSync(join(page.dir, 'ci-deployer.yaml'), CI_DEPLOYER_ROLE);
  await mezctl(['create', '-f', join(page.dir, 'ci-deployer.yaml')]);
}

async function botToken(): Promise<string> {
  const printed = page.tokens.bot;
  page.tokens.bot = undefined;
  if (printed) return printed;
  await ensureRole();
  const out = await mezctl(['bots', 'add', `--name=doc-bot-${++page.minted}`, '--roles=ci-deployer']);
  return /Join token: (tok-bot-[0-9a-f]{32})/.exec(out)?.[1] as string;
}

async function nodeToken(): Promise<string> {
  const printed = page.tokens.node;
  page.tokens.node = undefined;
  if (printed) return printed;
  const out = await mezctl(['nodes', 'add', '--name=web-server-01', `--addr=127.0.0.1:${page.sshPort}`, '--labels=env=staging,team=web']);
  return /Join token: (tok-node-[0-9a-f]{32})/.exec(out)?.[1] as string;
}

async function joinBot(): Promise<void> {
  if (existsSync(join(page.root, 'var/lib/mezite/identity/certs/ssh_key-cert.pub'))) return;
  const script = await substitute('mezd identity start --auth-server=mezite.example.com:3025 --join-token=tok-bot-… --ca-pin=sha256:… --destination=/var/lib/mezite/identity/certs --one-shot\n');
  const r = await runShell(script, 60_000).done;
  if (r.code !== 0) throw new Error(`test setup: the bot did not join: ${r.stderr}`);
}

async function enrollNode(): Promise<void> {
  if (!existsSync(join(page.root, 'etc/ssh/mezite/sshd_config'))) {
    // docs/openssh.md, "Enroll a node with mezd node": the same two commands.
    const script = await substitute('mezd node start --auth-server=mezite.example.com:3025 --join-token=tok-node-… --host-key=/etc/ssh/ssh_host_ed25519_key.pub --destination=/etc/ssh/mezite --ca-pin=sha256:…\n');
    await runDaemon(script, join(page.root, 'etc/ssh/mezite/sshd_config'), 'test setup: mezd node start');
  }
  await startNodeSshd();
}

async function startNodeSshd(): Promise<void> {
  if (page.sshd) return;
  const dest = join(page.root, 'etc/ssh/mezite');
  const current = (await mezctl(['ca', 'export', '--type=user'])).trim();
  if (!(await until(() => existsSync(join(dest, 'user_ca.pub')) && readFileSync(join(dest, 'user_ca.pub'), 'utf8').includes(current), 15_000))) {
    throw new Error(`test setup: ${dest}/user_ca.pub never listed the current User CA (is mezd node start running?)`);
  }
  const dir = join(page.dir, 'sshd');
  mkdirSync(dir, { recursive: true });
  page.sshd = await startSshd({ dir, port: page.sshPort, hostKey: join(page.root, 'etc/ssh/ssh_host_ed25519_key'), extra: [`Include ${dest}/sshd_config`] });
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a script with `bash -euo pipefail` (or `flags`) in the page's cwd and
 * environment, in a process group of its own so that whatever it leaves running (`&`)
 * can be stopped. Resolves when bash exits; a script still running after `timeoutMs`
 * is killed, group and all.
 */
function runShell(script: string, timeoutMs: number, flags = ['-euo', 'pipefail']): { child: ChildProcess; done: Promise<ShellResult>; output: () => ShellResult } {
  const child = spawn('bash', [...flags, '-c', script], { cwd: page.work, env: environment(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<ShellResult>((resolve, reject) => {
    const timer = timeoutMs > 0 ? setTimeout(() => {
      killGroup(child, 'SIGKILL');
      reject(new Error(`did not finish within ${timeoutMs / 1000} s\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
    }, timeoutMs) : undefined;
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      // A command left running in the background keeps the pipes open: do not wait for it.
      const closed = new Promise((r) => child.once('close', r));
      void Promise.race([closed, new Promise((r) => setTimeout(r, 300))]).then(() => resolve({ code, stdout, stderr }));
    });
  });
  return { child, done, output: () => ({ code: child.exitCode, stdout, stderr }) };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Starts a long-running script; it passes when `waitFor` appears, and runs until the page is done. */
async function runDaemon(script: string, waitFor: string, what: string): Promise<ShellResult> {
  const run = runShell(script, 0);
  page.daemons.push(run.child);
  let failed: ShellResult | undefined;
  void run.done.then((r) => {
    if (r.code !== 0) failed = r;
  });
  const ok = await until(() => failed !== undefined || existsSync(waitFor), 30_000);
  if (failed) throw new Error(`${what} exited ${failed.code} before writing ${waitFor}\n--- stdout\n${failed.stdout}\n--- stderr\n${failed.stderr}`);
  if (!ok) throw new Error(`${what} did not write ${waitFor} within 30 s\n--- stdout\n${run.output().stdout}\n--- stderr\n${run.output().stderr}`);
  return run.output();
}

/** Stops what a page left running: its long-running commands (SIGTERM, then SIGKILL) and its sshd. */
async function stopPage(): Promise<void> {
  for (const d of page.daemons) killGroup(d, 'SIGTERM');
  await until(() => page.daemons.every((d) => !groupAlive(d)), 5_000);
  for (const d of page.daemons) killGroup(d, 'SIGKILL');
  await page.sshd?.stop();
}

function groupAlive(child: ChildProcess): boolean {
  try {
    if (child.pid) process.kill(-child.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A new page: empty inventory, fresh dirs, a host key at /etc/ssh/ssh_host_ed25519_key, a free port for its node. */
async function openPage(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mezite-docs-'));
  chmodSync(dir, 0o755); // sshd's AuthorizedPrincipalsCommand runs as nobody and reads the node file under it
  page = { dir, root: join(dir, 'root'), home: join(dir, 'home'), work: join(dir, 'work'), sshPort: await freePort(), tokens: {}, daemons: [], minted: 0 };
  actionsEnv = {};
  for (const d of ['root/etc/ssh', 'root/var/lib/mezite', 'root/tmp', 'home', 'work']) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'web-server-01', '-f', join(page.root, 'etc/ssh/ssh_host_ed25519_key')]);
  if (inventoryDirty) await resetInventory();
  inventoryDirty = true;
}

/** Removes every bot, node and role (bots first: a role in use cannot go). */
async function resetInventory(): Promise<void> {
  const names = async (kind: string, name: (i: { name?: string; metadata?: { name: string } }) => string | undefined) =>
    (JSON.parse(await mezctl([kind, 'ls', '--output', 'json'])) as { items: Array<{ name?: string; metadata?: { name: string } }> }).items.map(name) as string[];
  const [bots, nodes, roles] = await Promise.all([names('bots', (i) => i.name), names('nodes', (i) => i.name), names('roles', (i) => i.metadata?.name)]);
  await Promise.all([...bots.map((n) => mezctl(['bots', 'rm', n])), ...nodes.map((n) => mezctl(['nodes', 'rm', n]))]);
  await Promise.all(roles.map((n) => mezctl(['roles', 'rm', n])));
}

/** `file:line` of a block, for test names and failure messages. */
const where = (b: DocBlock) => `${b.file}:${b.line}`;

function fail(b: DocBlock, what: string, r?: ShellResult, script?: string): never {
  throw new Error(`${where(b)}: ${what}${script ? `\n--- ran\n${script}` : ''}${r ? `\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}` : ''}`);
}

/** Keeps the join tokens a block printed, for the `tok-…-…` placeholders of the blocks after it. */
function remember(stdout: string): void {
  const bot = stdout.match(/tok-bot-[0-9a-f]{32}/g);
  const node = stdout.match(/tok-node-[0-9a-f]{32}/g);
  if (bot) page.tokens.bot = bot[bot.length - 1];
  if (node) page.tokens.node = node[node.length - 1];
}

async function setUp(b: DocBlock): Promise<void> {
  for (const n of b.annotation?.needs ?? []) await (FIXTURES[n] as () => Promise<void>)();
  if (b.annotation?.keys.file) writeFileSync(join(page.work, b.annotation.keys.file), await substitute(b.text));
}

/** A shell block: run it; check its exit code and the output it promises. */
async function runCommandBlock(b: DocBlock): Promise<void> {
  await setUp(b);
  const keys = b.annotation?.keys ?? {};
  const { script: raw, expected } = toScript(b);
  const script = await substitute(raw);
  let r: ShellResult;
  if (keys.daemon) {
    if (!keys['wait-for']) fail(b, 'a daemon block needs wait-for=PATH: what it writes when it works');
    r = await runDaemon(script, await substitute(keys['wait-for']), where(b)).catch((err: Error) => fail(b, err.message, undefined, script));
  } else {
    r = await runShell(script, 45_000).done.catch((err: Error) => fail(b, err.message, undefined, script));
    const want = Number(keys['expect-exit'] ?? 0);
    if (r.code !== want) fail(b, `exited ${r.code}, the doc expects ${want}`, r, script);
  }
  remember(r.stdout);
  const missing = missingOutput(r.stdout, await Promise.all(expected.map((e) => substitute(e, true))));
  if (missing !== undefined) fail(b, `the output has no line "${missing}" that the block promises`, r, script);
}

/** sshd_config: a stock config (the test's host key) plus the block must pass `sshd -t` without a word. */
async function checkSshdConfig(b: DocBlock): Promise<void> {
  await setUp(b);
  for (const pair of (b.annotation?.keys.copy ?? '').split(',').filter(Boolean)) {
    const [from = '', to = ''] = pair.split(':');
    const dest = await substitute(to);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(join(page.work, from), dest);
  }
  const config = join(page.dir, `sshd_config.${b.line}`);
  writeFileSync(config, `HostKey ${page.root}/etc/ssh/ssh_host_ed25519_key\n${await substitute(b.text)}`);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const r = await runShell(`/usr/sbin/sshd -t -f ${config}`, 15_000, []).done;
  if (r.code !== 0 || r.stderr.trim() !== '') fail(b, `sshd -t -f refuses the block (or warns)`, r, readFileSync(config, 'utf8'));
}

/** ssh_config: `ssh -G -F` accepts it, applies it to `host=`, and the files it names exist. */
async function checkSshConfig(b: DocBlock): Promise<void> {
  await setUp(b);
  const text = await substitute(b.text);
  const config = join(page.dir, `ssh_config.${b.line}`);
  writeFileSync(config, text);
  const host = b.annotation?.keys.host ?? 'web-server-01';
  const r = await runShell(`ssh -G -F ${config} ${host}`, 15_000, []).done;
  // ssh says "Pseudo-terminal will not be allocated" when stdin is not a terminal, even with -G.
  if (r.code !== 0 || r.stderr.replace(/Pseudo-terminal will not be allocated[^\n]*\n?/, '').trim() !== '') fail(b, `ssh -G -F refuses the block`, r, text);
  for (const m of text.matchAll(/^\s*(IdentityFile|CertificateFile|UserKnownHostsFile)\s+(\S+)/gim)) {
    const [, key = '', path = ''] = m;
    if (!r.stdout.includes(`${key.toLowerCase()} ${path}`)) fail(b, `${key} ${path} does not apply to ${host}`, r, text);
    if (!existsSync(path)) fail(b, `${key} ${path} does not exist: nothing the page ran wrote it`);
  }
}

/** INI: sections and `key = value` lines only. */
async function checkIni(b: DocBlock): Promise<void> {
  await setUp(b);
  b.text.split('\n').forEach((l, i) => {
    if (l.trim() === '' || /^\s*[#;]/.test(l) || /^\[[^\]]+\]\s*$/.test(l) || /^[\w.-]+(\s*=\s*.*|(\s+\S+=\S+)*)$/.test(l)) return;
    fail(b, `line ${b.line + 1 + i} is not INI: ${l}`);
  });
}

interface Step {
  name?: string;
  run?: string;
  uses?: string;
}

/** The steps of a workflow block, in order (every job's). */
function workflowSteps(b: DocBlock): Step[] {
  const doc = parseYaml(b.text) as { on?: unknown; jobs?: Record<string, { steps?: Step[] }> };
  if (!doc?.on || !doc.jobs) throw new Error(`${where(b)}: not a GitHub Actions workflow (no on: or jobs:)`);
  return Object.values(doc.jobs).flatMap((j) => j.steps ?? []);
}

/** A workflow step's `run:` as GitHub runs it (`bash -e -o pipefail`), with its placeholders and ${{ secrets }} filled in. */
async function runWorkflowStep(b: DocBlock, step: Step, last: boolean): Promise<void> {
  await setUp(b);
  const script = await substitute(step.run as string);
  const r = await runShell(script, 45_000, ['--noprofile', '--norc', '-eo', 'pipefail']).done.catch((err: Error) => fail(b, err.message, undefined, script));
  const want = last ? Number(b.annotation?.keys['expect-exit'] ?? 0) : 0;
  if (r.code !== want) fail(b, `step "${step.name}" exited ${r.code}, the doc expects ${want}`, r, script);
  remember(r.stdout);
}

const isShell = (b: DocBlock): boolean => (SHELL_LANGS as readonly string[]).includes(b.lang);

/** A block (or workflow step) that cannot run here still has to be shell that bash reads. */
function checkShellSyntax(b: DocBlock, script: string): void {
  const r = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
  if (r.status !== 0) fail(b, `bash -n refuses it: ${r.stderr.trim()}`);
}

/** A `uses:` step (run only on a GitHub runner) names an action at a released major version. */
function checkUses(b: DocBlock, step: Step): void {
  if (!/^[\w.-]+\/[\w.-]+@v\d+$/.test(step.uses ?? '')) fail(b, `step uses "${step.uses}", not owner/action@vN`);
}

/** The heredoc of a block (`<<'EOF' … EOF`). */
function heredoc(b: DocBlock): string {
  const m = /<<-?\s*'?(\w+)'?[^\n]*\n([\s\S]*?)\n\1\n/.exec(b.text);
  if (!m) throw new Error(`${where(b)}: heredoc=role, but the block has no heredoc`);
  return `${m[2]}\n`;
}

/** Registers the tests of one block, named after it (`docs/openssh.md:19 bash — mezctl nodes add …`). */
function registerBlock(b: DocBlock): void {
  const a = b.annotation;
  const lang = b.lang || 'plain';
  const name = `${where(b)} ${lang} — ${summary(b.text)}`;
  const unknown = (a?.needs ?? []).filter((n) => !(n in FIXTURES));
  if (unknown.length > 0) {
    test(name, () => fail(b, `unknown needs=${unknown.join(',')} (known: ${Object.keys(FIXTURES).join(', ')})`));
    return;
  }
  if (a?.keys.heredoc === 'role') {
    test(`${where(b)} heredoc role — mezctl create -f accepts it`, async () => {
      writeFileSync(join(page.work, `role.${b.line}.yaml`), heredoc(b));
      const r = await runShell(`mezctl create -f role.${b.line}.yaml`, 30_000).done;
      if (r.code !== 0) fail(b, 'mezctl create -f refuses the heredoc role', r);
    });
  }
  if (a?.skip) {
    // Cannot run on any test machine (a cluster, Docker, the network, itself): the reason
    // stays in the page, and what can be checked here is that bash reads it as written.
    if (isShell(b)) test(`${where(b)} ${lang} — not run (${a.skip}): bash -n accepts it`, () => checkShellSyntax(b, toScript(b).script));
    return;
  }
  const missing = unavailable(a?.needs ?? []);
  if (missing) {
    // A binary or privilege of this machine: skipped on a laptop, a failure in CI.
    testNeeding(missing, name, () => undefined);
    return;
  }
  const check = a?.keys.check;
  if (isShell(b) && !check) {
    test(name, () => runCommandBlock(b), 60_000);
  } else if (check === 'sshd_config') {
    test(`${name} (sshd -t)`, () => checkSshdConfig(b));
  } else if (check === 'ssh_config') {
    test(`${name} (ssh -G)`, () => checkSshConfig(b));
  } else if (check === 'ini') {
    test(`${name} (INI)`, () => checkIni(b));
  } else if (a?.keys.file && !check) {
    test(`${name} (written to ${a.keys.file} for the blocks after it)`, () => setUp(b));
  } else if (check === 'github-workflow') {
    const steps = workflowSteps(b);
    const skips = new Map((a?.keys['skip-step'] ?? '').split(';').filter(Boolean).map((s) => [s.slice(0, s.indexOf(':')).trim(), s.slice(s.indexOf(':') + 1).trim()] as const));
    const lastRun = steps.filter((s) => s.run && !skips.has(s.name ?? '')).pop();
    for (const step of steps) {
      const stepName = `${where(b)} workflow step "${step.name ?? step.uses}"`;
      if (!step.run) test(`${stepName} — not run (needs a GitHub runner): names a released action`, () => checkUses(b, step));
      else if (skips.has(step.name ?? '')) test(`${stepName} — not run (${skips.get(step.name ?? '')}): bash -n accepts it`, () => checkShellSyntax(b, step.run as string));
      else test(stepName, () => runWorkflowStep(b, step, step === lastRun), 60_000);
    }
  } else if (b.lang) {
    // Tagged as something other than a shell (text, json, …) and not annotated: not a
    // command, so no test (a skipped test here would only inflate the skip count).
  } else {
    test(name, () => fail(b, 'a fence without a language: tag it (```bash to run it, ```text for a diagram) or annotate it (<!-- doc-test: check=… -->, <!-- doc-test: skip — reason -->)'));
  }
}

const sshSkip = sshdUnavailable();

beforeAll(async () => {
  if (!sshSkip) {
    // The login of seed 002, and the script its CI example runs (the same file the e2e tests write).
    const home = ensureLoginUser('deploy');
    writeFileSync(join(home, 'deploy.sh'), '#!/bin/sh\necho "deploying as $(id -un)"\nexit 3\n');
    chmodSync(join(home, 'deploy.sh'), 0o755);
    const uid = Number(execFileSync('id', ['-u', 'deploy'], { encoding: 'utf8' }).trim());
    chownSync(join(home, 'deploy.sh'), uid, uid);
  }
  stack = await TestStack.start();
  const discovery = (await (await fetch(`${stack.httpUrl}/.well-known/mezite`)).json()) as { ca_pin: string };
  caPin = discovery.ca_pin;
}, 120_000);

afterAll(async () => {
  await stack?.destroy();
  await (await issuer)?.stop();
});

for (const file of PAGES) {
  const blocks = readBlocks(REPO_ROOT, file);
  if (blocks.length === 0) continue;
  describe(file, () => {
    beforeAll(openPage, 60_000);
    afterAll(async () => {
      if (!page) return;
      await stopPage();
      if (!process.env.MEZITE_KEEP_TEST_DATA) rmSync(page.dir, { recursive: true, force: true });
    }, 30_000);
    for (const b of blocks) registerBlock(b);
  });
}

