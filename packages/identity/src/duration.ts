import { invalidArgument } from './errors';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/**
 * Parses a duration as Teleport and Go write them (`90s`, `30m`, `1h`, `1h30m`, `2d`)
 * into milliseconds. A bare number is refused: `--token-ttl=60` is ambiguous.
 *
 * @param what names the flag or field in the error (`--token-ttl`).
 */
export function parseDuration(text: string, what = 'duration'): number {
  const s = text.trim();
  if (s === '') throw invalidArgument(`${what}: empty duration; use a number and a unit such as 30m or 1h`);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const start = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== start) {
      throw invalidArgument(`${what}: invalid duration "${text}"; use a number and a unit (ms, s, m, h, d), e.g. 30m or 1h30m`);
    }
    total += Number(m[1]) * (UNITS[m[2] as string] as number);
  }
  if (!Number.isFinite(total) || total <= 0) throw invalidArgument(`${what}: duration "${text}" must be positive`);
  return Math.round(total);
}

/** Formats milliseconds the way parseDuration reads them (`1h30m`, `45s`). */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  let rest = Math.round(ms / 1000);
  const out: string[] = [];
  for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const q = Math.floor(rest / n);
    if (q > 0) out.push(`${q}${u}`);
    rest -= q * n;
  }
  return out.length ? out.join('') : `${ms}ms`;
}
