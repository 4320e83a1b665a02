import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** The repository root. */
export const repoRoot = join(__dirname, '..', '..');

/** A Kubernetes object as rendered: only the fields every object has are typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Oldest kustomize whose syntax the overlays use (`labels`, `patches` with regex targets). */
const MIN_KUSTOMIZE_MAJOR = 5;

/** How to run kustomize here: a kustomize binary, or kubectl's built-in one (kubectl 1.27+ embeds kustomize v5). */
interface Renderer {
  describe: string;
  render(dir: string): string;
}

let cached: Renderer | undefined;

/**
 * Finds kustomize: `$KUSTOMIZE`, `kustomize` on PATH, then `$KUBECTL` or `kubectl` on
 * PATH (`kubectl kustomize`). Throws, saying what to install, when none is v5 or newer.
 */
export function kustomizeRenderer(): Renderer {
  if (cached) return cached;
  const tried: string[] = [];
  for (const bin of [process.env.KUSTOMIZE, 'kustomize'].filter((b): b is string => Boolean(b))) {
    const v = versionOf(bin, ['version']);
    tried.push(`${bin}: ${v ?? 'not found'}`);
    if (v && majorOf(v) >= MIN_KUSTOMIZE_MAJOR) return (cached = { describe: `${bin} ${v}`, render: (dir) => run(bin, ['build', dir]) });
  }
  for (const bin of [process.env.KUBECTL, 'kubectl'].filter((b): b is string => Boolean(b))) {
    const out = versionOf(bin, ['version', '--client', '-o', 'json']);
    const v = out ? (JSON.parse(out) as { kustomizeVersion?: string }).kustomizeVersion : undefined;
    tried.push(`${bin}: ${v ? `kustomize ${v}` : 'not found'}`);
    if (v && majorOf(v) >= MIN_KUSTOMIZE_MAJOR) return (cached = { describe: `${bin} kustomize ${v}`, render: (dir) => run(bin, ['kustomize', dir]) });
  }
  throw new Error(
    `no kustomize v${MIN_KUSTOMIZE_MAJOR}+ to render deploy/: install kubectl 1.27 or later (it embeds kustomize) or kustomize v5, ` +
      `or name one with KUBECTL / KUSTOMIZE (docs/OPERATIONS.md, "Validating the manifests"). Tried: ${tried.join('; ')}`,
  );
}

function versionOf(bin: string, args: string[]): string | undefined {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 }).trim();
  } catch {
    return undefined;
  }
}

function majorOf(version: string): number {
  const m = /v?(\d+)\./.exec(version);
  return m ? Number(m[1]) : 0;
}

function run(bin: string, args: string[]): string {
  return execFileSync(bin, args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, maxBuffer: 32 << 20 });
}

const rendered = new Map<string, K8sObject[]>();

/** `kustomize build deploy/<dir>` as objects (cached per dir). */
export function renderKustomization(dir: string): K8sObject[] {
  let objects = rendered.get(dir);
  if (!objects) {
    objects = parseYamlStream(kustomizeRenderer().render(join(repoRoot, dir)), dir);
    rendered.set(dir, objects);
  }
  return objects;
}

/** The objects of a YAML stream (a file or rendered output); empty documents are skipped. */
export function parseYamlStream(text: string, source: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as K8sObject | null;
    if (value) out.push(value);
  }
  return out;
}

/** The objects of one YAML file under the repository root. */
export function readYamlFile(path: string): K8sObject[] {
  return parseYamlStream(readFileSync(join(repoRoot, path), 'utf8'), path);
}

/** `Kind/name` for messages. */
export function ref(o: K8sObject): string {
  return `${o.kind}/${o.metadata.name}`;
}
