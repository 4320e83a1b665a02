import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The hot spots of one process's `--cpu-prof` profile. */
export interface ProfileSummary {
  file: string;
  process: string;
  /** The benchmark phase it covers, when profiled per phase. */
  phase?: string;
  /** Sampled time that was not idle, ms. */
  busyMs: number;
  /** Share of busy time spent in each area's own code (self time), largest first. */
  selfByArea: Array<[string, number]>;
  /** Share of busy time with the area anywhere on the stack (inclusive), largest first. */
  inclusiveByArea: Array<[string, number]>;
  /** Functions with the most self time: `name (file:line)` and share. */
  topFunctions: Array<[string, number]>;
  /**
   * Mezite functions (packages/, services/) by inclusive time: what each one and the
   * synchronous work it calls cost. An async function's continuations after each await
   * count too (V8 resumes them under the function's own frame).
   */
  ourFunctions: Array<[string, number]>;
}

/** Which package or part of Node a frame belongs to. */
function areaOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url) ?? /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pnpm) return pnpm[1]!;
  const own = /\/(packages|services)\/([^/]+)\/dist\/(?:(domain|store|grpc|http)\/)?/.exec(url);
  if (own) return `@mezite/${own[2]}${own[3] ? `/${own[3]}` : ''}`;
  const node = /^node:(?:internal\/)?([^/]+)/.exec(url);
  if (node) return `node:${node[1]!.replace(/\.js$/, '')}`;
  return url.replace(/^file:\/\//, '').split('/').slice(-2).join('/');
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\//, '').replace(/.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '').replace(/.*\/(packages|services)\//, '$1/');
}

/** Summarises one profile. */
export function summariseProfile(file: string, processName: string): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const selfFn = new Map<string, number>();
  const incl = new Map<string, number>();
  const ourIncl = new Map<string, number>();
  let busy = 0;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') return;
    busy += dt;
    const { url, functionName, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    self.set(area, (self.get(area) ?? 0) + dt);
    const fnKey = `${functionName || '(anonymous)'} (${url ? `${shortUrl(url)}:${lineNumber + 1}` : 'native'})`;
    selfFn.set(fnKey, (selfFn.get(fnKey) ?? 0) + dt);
    const seen = new Set<string>();
    const ours = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (f.functionName === '(root)') break;
      seen.add(areaOf(f.url, f.functionName));
      if (/\/(packages|services)\/[^/]+\/dist\//.test(f.url) && !f.url.includes('node_modules')) ours.add(`${f.functionName || '(anonymous)'} (${shortUrl(f.url)}:${f.lineNumber + 1})`);
    }
    for (const a of seen) incl.set(a, (incl.get(a) ?? 0) + dt);
    for (const a of ours) ourIncl.set(a, (ourIncl.get(a) ?? 0) + dt);
  });
  const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, Math.round((v / busy) * 1000) / 10] as [string, number]);
  return { file, process: processName, busyMs: Math.round(busy), selfByArea: top(self, 15), inclusiveByArea: top(incl, 20), topFunctions: top(selfFn, 20), ourFunctions: top(ourIncl, 25) };
}

/**
 * Summarises every `*.cpuprofile` in `dir`: `CPU.<pid>.<service>.<n>.cpuprofile` from
 * profile-preload.ts (`phases[n]` names the phase), or Node's own
 * `CPU.<date>.<time>.<pid>.…` (`names` maps pids to processes).
 */
export function summariseProfiles(dir: string, names: Map<number, string>, phases: string[], log: (l: string) => void): ProfileSummary[] {
  const out: ProfileSummary[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    const ours = /^CPU\.(\d+)\.([a-z-]+)\.(\d+)\.cpuprofile$/.exec(f);
    const pid = Number(ours?.[1] ?? /^CPU\.\d+\.\d+\.(\d+)\./.exec(f)?.[1]);
    const name = ours?.[2] ?? names.get(pid) ?? `pid ${pid}`;
    const phase = ours ? phases[Number(ours[3])] : undefined;
    try {
      const s = { ...summariseProfile(join(dir, f), name), ...(phase ? { phase } : {}) };
      out.push(s);
      log(`profile ${name}${phase ? ` (${phase})` : ''}: ${s.busyMs} ms busy; self: ${s.selfByArea.slice(0, 5).map(([a, v]) => `${a} ${v}%`).join(', ')}`);
    } catch (err) {
      log(`profile ${f}: unreadable (${(err as Error).message})`);
    }
  }
  return out.sort((a, b) => (a.phase ?? '').localeCompare(b.phase ?? '') || b.busyMs - a.busyMs);
}
