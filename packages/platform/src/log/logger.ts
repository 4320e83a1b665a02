import { currentRequest } from '../telemetry/request-scope';
import { activeTraceIds } from '../telemetry/tracing';

/** Log levels, in increasing severity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Structured fields of a log line. */
export type LogFields = Record<string, unknown>;

/**
 * A structured JSON logger (STYLE.md §20): one JSON object per line on stdout, with
 * the service name and whatever context a child carries. A line written while a
 * request is handled names it (`request_id`, and `trace_id`/`span_id` while tracing is
 * on), whichever logger wrote it.
 * Secrets must never reach it; as a last line of defence every string value is
 * scrubbed of anything shaped like a Mezite bearer secret.
 */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

const SECRET_SHAPES = /\b(tok-(?:bot|node)-|psk_(?:live|dev)_|mzs_|mzadm_)[A-Za-z0-9_-]{6,}/g;
const SECRET_KEYS = /^(authorization|password|secret|client_secret|token|plaintext|private_?key|join_token|access_token|refresh_token|id_token|pepper|kek)$/i;

/** Replaces anything shaped like a Mezite secret in `s` with its prefix and `[redacted]`. */
export function scrub(s: string): string {
  return s.replace(SECRET_SHAPES, '$1[redacted]');
}

function clean(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrub(value);
  if (value instanceof Error) return { name: value.name, message: scrub(value.message), ...(value.cause ? { cause: clean(value.cause, depth + 1) } : {}) };
  if (Array.isArray(value)) return depth > 4 ? '[…]' : value.map((v) => clean(v, depth + 1));
  if (value && typeof value === 'object') {
    if (depth > 4) return '[…]';
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.test(k) ? '[redacted]' : clean(v, depth + 1);
    return out;
  }
  return value;
}

/** Options of createLogger. */
export interface LoggerOptions {
  /** The service name, on every line. */
  service: string;
  /** Minimum level; default from MEZITE_LOG_LEVEL, else `info`. */
  level?: LogLevel;
  /** Where lines go; default stdout, the lines of one event-loop tick in one write. */
  write?: (line: string) => void;
}

/** Creates the root logger of a process. */
export function createLogger(opts: LoggerOptions): Logger {
  const envLevel = process.env.MEZITE_LOG_LEVEL?.trim().toLowerCase() as LogLevel | undefined;
  const min = ORDER[opts.level ?? (envLevel && envLevel in ORDER ? envLevel : 'info')];
  const write = opts.write ?? stdoutLines();
  const make = (base: LogFields): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
      if (ORDER[level] < min) return;
      const rec = clean({ time: new Date().toISOString(), level, service: opts.service, msg, ...requestFields(), ...base, ...fields }) as LogFields;
      try {
        write(JSON.stringify(rec));
      } catch {
        /* a log line must never take the process down */
      }
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (f) => make({ ...base, ...f }),
    };
  };
  return make({});
}

let stdoutWriter: ((line: string) => void) | undefined;
/** Lines buffered before a write even within one tick. */
const MAX_PENDING_LINES = 256;

/**
 * Stdout for log lines, shared by every logger of the process: the lines of one tick of
 * the event loop go out in one write. A pipe write is synchronous in Node on Linux, a
 * system call per line, and it was a tenth of a service's CPU under load (docs/
 * PERFORMANCE.md). Whatever is pending is written before the process exits, also
 * through process.exit() and after an uncaught exception.
 */
function stdoutLines(): (line: string) => void {
  if (stdoutWriter) return stdoutWriter;
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const out = pending.join('\n') + '\n';
    pending = [];
    process.stdout.write(out);
  };
  process.on('exit', flush);
  stdoutWriter = (line) => {
    const n = pending.push(line);
    if (n === 1) setImmediate(flush);
    else if (n >= MAX_PENDING_LINES) flush();
  };
  return stdoutWriter;
}

/** The request id and trace ids of the request being handled, if any. */
function requestFields(): LogFields {
  const req = currentRequest();
  const ids = activeTraceIds();
  if (!req && !ids) return {};
  return { ...(req ? { request_id: req.requestId } : {}), ...ids };
}

/** A logger that drops everything (unit tests). */
export const nullLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => nullLogger };
