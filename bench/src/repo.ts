import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

/** The checkout the benchmark measures (bench/dist/… → the repository root). */
export const REPO_ROOT = resolve(__dirname, '..', '..');
export const BIN = join(REPO_ROOT, 'bin');
/** Compiled entry points of the benchmark's own child processes. */
export const DIST = __dirname;

/** Files the benchmark itself adds to a checkout; changes to them do not make a measured tree "dirty". */
const BENCH_OWN = [/^bench\//, /^package\.json$/, /^pnpm-workspace\.yaml$/, /^pnpm-lock\.yaml$/, /^docs\/PERFORMANCE\.md$/];

/**
 * `git rev-parse HEAD` of the checkout, with `-dirty` when tracked files other than the
 * benchmark's own differ from it (they are listed in `dirtyPaths`).
 */
export function gitCommit(): { commit: string; dirtyPaths: string[] } {
  const git = (args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const head = git(['rev-parse', 'HEAD']).trim();
    const dirtyPaths = git(['status', '--porcelain', '--untracked-files=no'])
      .split('\n')
      .map((l) => l.slice(3).trim())
      .filter((p) => p && !BENCH_OWN.some((re) => re.test(p)));
    return { commit: dirtyPaths.length ? `${head}-dirty` : head, dirtyPaths };
  } catch {
    return { commit: 'unknown (not a git checkout)', dirtyPaths: [] };
  }
}

/**
 * Loads a module of a service's build by path. Services export only their `main`
 * (their domain is not a library), so the in-process benchmark reaches
 * `services/<name>/dist/…` directly; `pnpm build` must have run.
 */
export function requireServiceModule<T>(service: string, path: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(join(REPO_ROOT, 'services', service, 'dist', path)) as T;
}
