import { cpus, loadavg, release, totalmem } from 'node:os';
import { readMachineCpu, topProcesses } from './proc-stats';
import { gitCommit } from './repo';

/** Where and on what a run happened. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  kernel: string;
  node: string;
  gitCommit: string;
  /** Tracked files that differ from the commit (outside the benchmark's own). */
  gitDirtyPaths: string[];
  /** 1/5/15-minute load averages when the run started. */
  loadAvgStart: number[];
  /** Share of all cores busy during a few idle seconds before the run (other people's work). */
  busyBeforeStart: number;
  /** `pcpu rss comm` of the busiest processes when the run started. */
  topAtStart: string[];
}

/** Machine facts plus how busy it was in the `idleMs` before the benchmark started anything. */
export async function machineInfo(idleMs: number): Promise<MachineInfo> {
  const a = readMachineCpu();
  await new Promise((r) => setTimeout(r, idleMs));
  const b = readMachineCpu();
  const git = gitCommit();
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    gitCommit: git.commit,
    gitDirtyPaths: git.dirtyPaths,
    loadAvgStart: loadavg().map((x) => Math.round(x * 100) / 100),
    busyBeforeStart: b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0,
    topAtStart: topProcesses(),
  };
}

/**
 * Waits (at most `maxMs`) until the machine has been less than `threshold` busy for two
 * `windowMs` windows in a row: on a shared machine, a quiet moment gives comparable numbers.
 * Resolves with how busy the last window was.
 */
export async function waitQuiet(maxMs: number, log: (l: string) => void, threshold = 0.2, windowMs = 5000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let quiet = 0;
  for (;;) {
    const a = readMachineCpu();
    await new Promise((r) => setTimeout(r, windowMs));
    const b = readMachineCpu();
    const busy = b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
    // Two quiet windows in a row: a pause between two test files is not a quiet moment.
    quiet = busy < threshold ? quiet + 1 : 0;
    if (quiet >= 2 || Date.now() >= deadline) return busy;
    if (quiet > 0) continue;
    log(`machine ${(busy * 100).toFixed(0)}% busy (load ${loadavg().map((x) => x.toFixed(1)).join(' ')}); waiting for a quiet moment (until ${new Date(deadline).toISOString().slice(11, 19)} UTC)`);
  }
}
