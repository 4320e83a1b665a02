import { Histogram } from './histogram';
import type { PhaseUsage } from './proc-stats';
import { markdownTable, mib, type Row, simpleTable, textTable } from './report';
import type { RunData } from './rows';
import type { PgCounters } from './stack-under-test';

/** The whole report: header with machine and load, the table, notes, and the breakdowns behind it. */
export function renderReport(rows: Row[], data: RunData, machine: RunData['machine'] & { loadAvgEnd: number[] }, markdown: boolean): string {
  const table = markdown ? markdownTable(rows) : textTable(rows);
  const head = `Mezite benchmark — ${machine.cpuModel} × ${machine.cores} cores, ${machine.memoryGb} GiB, node ${machine.node}, commit ${machine.gitCommit.slice(0, 12)}${machine.gitCommit.endsWith('-dirty') ? '-dirty' : ''}
Storage: ${data.storage}. Load average ${machine.loadAvgStart.join('/')} at start, ${machine.loadAvgEnd.join('/')} at end; ${(machine.busyBeforeStart * 100).toFixed(0)}% of the CPU busy before start.`;
  const memRows = Object.keys(data.memory.idle ?? {})
    .filter((n) => !['load generators', 'echo reference', 'oidc-provider', 'store worker'].includes(n))
    .map((n) => [n, (mib(data.memory.idle?.[n]) ?? NaN).toFixed(1), (mib(maxPeak(data, n)) ?? NaN).toFixed(1), (mib(data.memory.hwm?.[n]) ?? NaN).toFixed(1)]);
  const memory = simpleTable(['process', 'idle VmRSS MiB', 'peak VmRSS under load MiB', 'VmHWM MiB'], memRows, markdown);
  const cpuRows = Object.entries(data.phases)
    .filter(([, p]) => p.result && p.result.ok > 0)
    .map(([name, p]) => [
      name,
      Math.round(p.result!.rate).toString(),
      sumPerOpMs(p.usage, SERVER_COLUMNS, p.result!.okTotal),
      sumPerOpMs(p.usage, ['load generators', 'store worker', 'signer'], p.result!.okTotal),
      ...CPU_COLUMNS.map((c) => perOpMs(p.usage, c, p.result!.okTotal)),
      pgPerOp(p, (c) => c.xact_commit + c.xact_rollback),
      pgPerOp(p, (c) => c.tup_inserted + c.tup_updated + c.tup_deleted),
      p.pgActivity ? `${p.pgActivity.active.toFixed(1)}/${p.pgActivity.lockWaiters.toFixed(1)}/${p.pgActivity.idleInTransaction.toFixed(1)}` : '·',
      `${(p.usage.machineBusy * 100).toFixed(0)}%`,
      otherCores(p.usage, data.machine.cores).toFixed(2),
    ]);
  const cpu = simpleTable(['phase', 'ops/s', 'server ms/op', 'client ms/op', ...CPU_COLUMNS.map((c) => `${c} ms/op`), 'PG xacts/op', 'PG rows written/op', 'PG backends running/lock-waiting/idle in tx', 'machine busy', 'others (cores)'], cpuRows, markdown);
  const title = (s: string) => (markdown ? `\n**${s}**\n` : `\n${s}\n`);
  const notes = rows.filter((r) => r.note).map((r) => `${markdown ? '- ' : '  '}${r.id}: ${r.note}`);
  if (data.fleet?.timeline.length) notes.push(`${markdown ? '- ' : '  '}6, per 10 s (renewals/failed attempts): ${data.fleet.timeline.map(([ok, f]) => `${ok}/${f}`).join(' ')}`);
  const partRows = data.sign.flatMap((sg) => [['crypto.sign (same key)', sg.raw] as const, ['signCertificate', sg.signCertificate] as const, ['CertificateSigner.sign', sg.certificateSigner] as const, ...Object.entries(sg.parts)].map(([n, r]) => [`${sg.algorithm}: ${n}`, (Histogram.from(r.hist).quantileUs(0.5)).toFixed(1), (r.hist.sumUs / Math.max(1, r.hist.count)).toFixed(1)]));
  const parts = partRows.length ? [title('Row 1 in parts (µs per call, one at a time)'), simpleTable(['call', 'p50 µs', 'mean µs'], partRows, markdown)] : [];
  return [head, '', table, '', ...notes, ...parts, title('Memory (VmRSS from /proc/<pid>/status)'), memory, title('CPU per operation (ms of CPU time per completed operation, warm-up and tail included, from /proc/<pid>/stat; PostgreSQL counters from pg_stat_database, for phases of 15 s or more)'), cpu].join('\n');
}

/**
 * PostgreSQL counters per operation, for phases of 15 s or more: a backend publishes
 * its counters up to 10 s late (PostgreSQL 15+), so a short phase's counters are mostly
 * its neighbours'.
 */
const pgPerOp = (p: RunData['phases'][string], f: (c: PgCounters) => number) => (p.pg && p.usage.wallSeconds >= 15 ? (f(p.pg) / p.result!.okTotal).toFixed(1) : '·');
/** Processes with a column of their own in the CPU table; the reference servers and clients are in the sums. */
const CPU_COLUMNS = ['auth-server', 'token-service', 'ssh-ca', 'postgres (this database)', 'stack (supervisor, logs)'];
/** Cores busy with anything this run does not watch (other people's work, the kernel), during a phase. */
export const otherCores = (u: PhaseUsage, cores: number) => Math.max(0, u.machineBusy * cores - Object.values(u.cpuSeconds).reduce((a, b) => a + b, 0) / u.wallSeconds);
/** What serves a request: the services, their PostgreSQL backends, the reference servers (not the clients, the supervisor or shared Redis). */
const SERVER_COLUMNS = ['auth-server', 'token-service', 'ssh-ca', 'postgres (this database)', 'echo reference', 'oidc-provider'];
const sumPerOpMs = (u: PhaseUsage, names: string[], ok: number) => {
  const s = names.reduce((a, n) => a + (u.cpuSeconds[n] ?? 0), 0);
  return s < 0.005 ? '·' : ((s * 1000) / ok).toFixed(3);
};
const perOpMs = (u: PhaseUsage, name: string, ok: number) => {
  const s = u.cpuSeconds[name];
  return s === undefined || s < 0.005 ? '·' : ((s * 1000) / ok).toFixed(3);
};
const maxPeak = (d: RunData, name: string) => Math.max(0, ...Object.values(d.phases).map((p) => p.usage.peakRss[name] ?? 0));
