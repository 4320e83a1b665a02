// The Dockerfile cannot be built here (no Docker engine in CI), so it is checked as text:
// multi-stage, non-root, health checks through grpc.health.v1, and everything it copies
// and runs actually exists in the repository. The build itself runs where Docker does
// (docs/OPERATIONS.md, "Images").
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HEALTH_PORT, METRICS_PORT, SERVICES } from './contract';
import { readYamlFile, repoRoot } from './kustomize';

interface Instruction {
  op: string;
  args: string;
}

interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** Stages of a Dockerfile: line continuations joined, comments and parser directives dropped. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (pending && line.startsWith('#')) continue;
    if (line.endsWith('\\')) pending += line.slice(0, -1) + ' ';
    else {
      logical.push((pending + line).trim());
      pending = '';
    }
  }
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\w+)\s+(.*)$/s.exec(l);
    if (!m) continue;
    const op = (m[1] as string).toUpperCase();
    const args = m[2] as string;
    if (op === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ from: f?.[1] ?? args, name: f?.[2] ?? String(stages.length), instructions: [] });
    } else stages.at(-1)?.instructions.push({ op, args });
  }
  return stages;
}

const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const stage = (name: string): Stage => {
  const s = stages.find((x) => x.name === name);
  if (!s) throw new Error(`Dockerfile has no stage ${name}`);
  return s;
};

/** The stages `name` is built on, itself first. */
function chain(name: string): Stage[] {
  const out: Stage[] = [];
  for (let s: Stage | undefined = stage(name); s; s = stages.find((x) => x.name === s?.from)) out.push(s);
  return out;
}

/** The last value of `op` in the stage or the stages under it (what the image ends up with). */
function effective(name: string, op: string): string | undefined {
  for (const s of chain(name)) {
    const found = s.instructions.filter((i) => i.op === op).at(-1);
    if (found) return found.args;
  }
  return undefined;
}

function all(name: string, op: string): string[] {
  return chain(name).flatMap((s) => s.instructions.filter((i) => i.op === op).map((i) => i.args));
}

const IMAGES = [...SERVICES.map((s) => s.name), 'cli'];

describe('Dockerfile', () => {
  test('is multi-stage: dependencies and build apart from the runtime, one target per image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(4);
    for (const target of [...IMAGES, 'dev']) expect(stages.map((s) => s.name)).toContain(target);
    // Runtime images start from a plain Node image, not from the build stage with its compiler and dev dependencies.
    for (const target of IMAGES) {
      const root = chain(target).at(-1) as Stage;
      expect(root.from).toMatch(/^\$\{NODE_IMAGE\}$|^node:/);
      expect(chain(target).map((s) => s.name)).not.toContain('build');
    }
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20[\w.-]*$/m);
  });

  test.each(IMAGES)('%s runs as a numeric non-root user', (target) => {
    const user = effective(target, 'USER');
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user?.split(':')[0])).toBeGreaterThanOrEqual(1000);
    // The Kubernetes manifests run the same uid (runAsNonRoot needs a numeric USER to verify).
    const deployment = readYamlFile(`deploy/base/${target === 'cli' ? 'auth-server' : target}.yaml`).find((o) => o.kind === 'Deployment');
    expect((deployment?.spec as { template: { spec: { securityContext: { runAsUser: number } } } }).template.spec.securityContext.runAsUser).toBe(Number(user?.split(':')[0]));
  });

  test.each(SERVICES)('$name: health check through grpc.health.v1, its ports, its entry point', ({ name, grpcPort }) => {
    const health = effective(name, 'HEALTHCHECK') ?? '';
    expect(health).toContain(`CMD ["node", "/app/bin/mezite-health", "127.0.0.1:${HEALTH_PORT}"]`);
    expect(existsSync(join(repoRoot, 'bin', 'mezite-health'))).toBe(true);
    const env = all(name, 'ENV').join(' ');
    expect(env).toContain(`MEZITE_HEALTH_ADDR=0.0.0.0:${HEALTH_PORT}`);
    expect(env).toContain(`MEZITE_METRICS_ADDR=0.0.0.0:${METRICS_PORT}`);
    expect(env).toContain(`MEZITE_${name.toUpperCase().replace(/-/g, '_')}_ADDR=0.0.0.0:${grpcPort}`);
    expect((effective(name, 'EXPOSE') ?? '').split(/\s+/).map(Number)).toEqual(expect.arrayContaining([grpcPort, HEALTH_PORT, METRICS_PORT]));
    expect(effective(name, 'CMD')).toBe(`["node", "services/${name}/dist/main.js"]`);
  });

  test('the CLI image runs mezctl, with mezd and msh on the PATH', () => {
    expect(effective('cli', 'ENTRYPOINT')).toBe('["mezctl"]');
    for (const bin of ['mezctl', 'mezd', 'msh']) expect(existsSync(join(repoRoot, 'bin', bin))).toBe(true);
    expect(all('cli', 'ENV').join(' ')).toContain('PATH=/app/bin:$PATH');
    expect(all('cli', 'COPY')).toContain('--from=build /app/bin ./bin');
  });

  test('pnpm is the version package.json pins', () => {
    const pinned = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { packageManager: string }).packageManager;
    expect(dockerfile).toContain(`ARG PNPM_VERSION=${pinned.replace(/^pnpm@/, '')}`);
    expect(all('build', 'RUN').join('\n')).toMatch(/pnpm install --frozen-lockfile/);
    expect(all('prod-deps', 'RUN').join('\n')).toMatch(/pnpm install --prod --frozen-lockfile --ignore-scripts/);
  });

  test('production dependencies and build output cover exactly the workspace packages the images run', () => {
    // The workspace:* closure of the services, the CLI and the daemon.
    const dirs = new Map<string, string>();
    for (const dir of ['packages/proto', 'packages/identity', 'packages/ssh', 'packages/platform', 'packages/cli', 'packages/daemon', 'packages/stack', 'services/auth-server', 'services/token-service', 'services/ssh-ca']) {
      const pkg = JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as { name: string };
      dirs.set(pkg.name, dir);
    }
    const closure = new Set<string>();
    const visit = (dir: string) => {
      if (closure.has(dir)) return;
      closure.add(dir);
      const pkg = JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      for (const [dep, spec] of Object.entries(pkg.dependencies ?? {})) {
        if (!spec.startsWith('workspace:')) continue;
        const d = dirs.get(dep);
        if (!d) throw new Error(`${dir} depends on ${dep}, which this test does not know`);
        visit(d);
      }
    };
    for (const root of ['services/auth-server', 'services/token-service', 'services/ssh-ca', 'packages/cli', 'packages/daemon']) visit(root);
    const expected = [...closure].sort();
    const manifests = all('prod-deps', 'COPY').flatMap((c) => (/^(\S+)\/package\.json \S+\/$/.exec(c)?.[1] ? [/^(\S+)\/package\.json/.exec(c)?.[1] as string] : [])).sort();
    expect(manifests).toEqual(expected);
    const dists = all('auth-server', 'COPY').flatMap((c) => (/^--from=build \/app\/(\S+)\/dist /.exec(c)?.[1] ? [/^--from=build \/app\/(\S+)\/dist /.exec(c)?.[1] as string] : [])).sort();
    expect(dists).toEqual(expected);
    // The quickstart's stack (embedded PostgreSQL binaries) stays out of the images.
    expect(expected).not.toContain('packages/stack');
  });

  test('every service image carries all migrations and the migration runner the Job calls', () => {
    const copies = all('auth-server', 'COPY');
    for (const { name } of SERVICES) expect(copies).toContain(`--from=build /app/services/${name}/migrations ./services/${name}/migrations`);
    expect(copies).toContain('--from=build /app/deploy/docker/mezite-migrate.cjs ./deploy/docker/mezite-migrate.cjs');
  });

  test('.dockerignore lets in only what the build reads, never .mezite or build output', () => {
    const lines = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('*');
    const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    expect(allowed.some((a) => a.includes('.mezite') || a.includes('node_modules') || a.includes('.git'))).toBe(false);
    for (const excluded of ['**/node_modules', '**/dist', '**/.mezite']) expect(lines).toContain(excluded);
    // `pnpm build` = scripts/build.mjs over tsconfig.json's project references.
    const tsconfig = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.json'), 'utf8')) as { references: Array<{ path: string }> };
    const needed = ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'tsconfig.json', 'tsconfig.base.json', 'scripts/build.mjs', 'bin', 'deploy/docker', ...tsconfig.references.map((r) => r.path)];
    const covered = (p: string) => allowed.some((a) => p === a || p.startsWith(`${a}/`));
    expect(needed.filter((p) => !covered(p))).toEqual([]);
    // Whatever COPY takes from the context is let in.
    const fromContext = stages.flatMap((s) => s.instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1)));
    expect(fromContext.filter((p) => p !== '.' && !covered(p.replace(/\/$/, '')))).toEqual([]);
  });

  test('the Tiltfile builds the dev target for every image the dev overlay runs, and keeps the no-cluster mode', () => {
    const tiltfile = readFileSync(join(repoRoot, 'Tiltfile'), 'utf8');
    expect(tiltfile).toContain("target='dev'");
    expect(tiltfile).toMatch(/SERVICES = \['auth-server', 'token-service', 'ssh-ca'\]/);
    expect(tiltfile).toContain("'mezite/' + svc");
    expect(tiltfile).toContain("kustomize('deploy/overlays/dev')");
    expect(tiltfile).toContain("if mode == 'local':");
    expect(tiltfile).toContain("serve_cmd='node packages/stack/dist/main.js'");
    // The dev image has the compiler the live update runs.
    expect(effective('dev', 'CMD')).toContain('--watch');
    expect(chain('dev').map((s) => s.name)).toContain('build');
  });
});
