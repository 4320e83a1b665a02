import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ). */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Memory of one process from /proc/<pid>/status, in bytes; undefined when it is gone. */
export function readMemory(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Seconds since boot (/proc/uptime). */
export function uptimeSeconds(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

/** When a process started, in seconds since boot (/proc/<pid>/stat field 22); undefined when it is gone. */
export function startedAtUptime(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[19]) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system, seconds) one process has used; undefined when it is gone. */
export function readCpuSeconds(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3; utime is 14, stime 15.
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** The whole machine's CPU time split into busy and total (all cores), in ticks. */
export function readMachineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // without guest (already in user)
  return { busy: total - idle, total };
}

/** Pids of processes whose command name (/proc/<pid>/comm) is `comm`. */
export function pidsByComm(comm: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The processes using the most CPU right now (`ps`), for the results' note on machine load. */
export function topProcesses(n = 8): string[] {
  try {
    const out = execFileSync('ps', ['-eo', 'pcpu,rss,comm', '--sort=-pcpu', '--no-headers'], { encoding: 'utf8' });
    return out.split('\n').filter(Boolean).slice(0, n).map((l) => l.trim().replace(/\s+/g, ' '));
  } catch {
    return [];
  }
}

/** What a group of processes did during one phase. */
export interface PhaseUsage {
  /** Wall time of the phase, seconds. */
  wallSeconds: number;
  /** CPU seconds per process name during the phase. */
  cpuSeconds: Record<string, number>;
  /** Highest VmRSS sampled per process name during the phase, bytes. */
  peakRss: Record<string, number>;
  /** Share of the machine's CPU (all cores) that was busy, 0..1. */
  machineBusy: number;
}

/**
 * Watches a changing set of named processes: samples VmRSS every `intervalMs` and
 * takes CPU readings at the phase boundaries. A name may stand for several pids
 * (PostgreSQL backends); their CPU is summed and their RSS added.
 */
export class ProcessSampler {
  private readonly pids = new Map<string, number[]>();
  private timer: NodeJS.Timeout | undefined;
  private phase: { startedAt: number; startedUptime: number; cpu: Map<number, number>; machine: { busy: number; total: number }; peak: Map<string, number> } | undefined;

  constructor(private readonly intervalMs = 250) {}

  /** Starts (or replaces) watching `name`. */
  watch(name: string, pids: number | number[]): void {
    const list = (Array.isArray(pids) ? pids : [pids]).filter((p) => Number.isInteger(p) && p > 0);
    this.pids.set(name, list);
    // A process found during a phase (a new PostgreSQL backend) counts from its start if it started during the phase.
    const ph = this.phase;
    if (ph) for (const p of list) if (!ph.cpu.has(p)) ph.cpu.set(p, (startedAtUptime(p) ?? 0) >= ph.startedUptime ? 0 : (readCpuSeconds(p) ?? 0));
  }

  /** The pids watched under `name`. */
  pidsOf(name: string): number[] {
    return this.pids.get(name) ?? [];
  }

  unwatch(name: string): void {
    this.pids.delete(name);
  }

  /** Current VmRSS of every watched name (bytes; the sum over its pids). */
  rssNow(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, pids] of this.pids) out[name] = pids.reduce((a, p) => a + (readMemory(p)?.rss ?? 0), 0);
    return out;
  }

  /** VmHWM of every watched name (bytes; the sum over its pids). */
  hwmNow(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, pids] of this.pids) out[name] = pids.reduce((a, p) => a + (readMemory(p)?.hwm ?? 0), 0);
    return out;
  }

  /** Starts a phase: CPU baselines now, RSS sampled until {@link end}. */
  begin(): void {
    const cpu = new Map<number, number>();
    for (const pids of this.pids.values()) for (const p of pids) cpu.set(p, readCpuSeconds(p) ?? 0);
    this.phase = { startedAt: Date.now(), startedUptime: uptimeSeconds(), cpu, machine: readMachineCpu(), peak: new Map() };
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** Ends the phase and returns what each watched process used during it. */
  end(): PhaseUsage {
    if (!this.phase) throw new Error('ProcessSampler.end without begin');
    clearInterval(this.timer);
    this.sample();
    const ph = this.phase;
    this.phase = undefined;
    const machine = readMachineCpu();
    const cpuSeconds: Record<string, number> = {};
    for (const [name, pids] of this.pids) {
      cpuSeconds[name] = pids.reduce((a, p) => {
        const now = readCpuSeconds(p);
        return now === undefined ? a : a + Math.max(0, now - (ph.cpu.get(p) ?? 0));
      }, 0);
    }
    const dt = machine.total - ph.machine.total;
    return {
      wallSeconds: (Date.now() - ph.startedAt) / 1000,
      cpuSeconds,
      peakRss: Object.fromEntries(ph.peak),
      machineBusy: dt > 0 ? (machine.busy - ph.machine.busy) / dt : 0,
    };
  }

  private sample(): void {
    if (!this.phase) return;
    for (const [name, rss] of Object.entries(this.rssNow())) this.phase.peak.set(name, Math.max(this.phase.peak.get(name) ?? 0, rss));
  }
}
