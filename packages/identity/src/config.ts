import { readFileSync } from 'node:fs';
import { invalidArgument } from './errors';
import { parseDuration } from './duration';

/** How one configuration key is read and checked. */
export interface ConfigField<T> {
  /** The environment variable (`MEZITE_TOKEN_PORT`); also the key in a config file. */
  env: string;
  /** Used when the key is set nowhere; omit for a required key. */
  default?: T;
  /** Turns the raw text into a value or throws an Error whose message says why. */
  parse: (raw: string) => T;
  /** One line for the error message when the key is missing. */
  help?: string;
}

type Schema = Record<string, ConfigField<unknown>>;
export type ConfigOf<S extends Schema> = { [K in keyof S]: S[K] extends ConfigField<infer T> ? T : never };

/** Sources, in order of precedence: flags, then environment, then a JSON config file. */
export interface ConfigSources {
  flags?: Record<string, string | undefined>;
  env?: NodeJS.ProcessEnv;
  /** A JSON file whose keys are the env names (`{"MEZITE_TOKEN_PORT": "3026"}`). */
  file?: string;
}

/**
 * Loads and validates a service's configuration once, at start-up (STYLE.md §19).
 * Every problem is reported at once, each naming the key and what was wrong, so an
 * operator fixes a config in one round instead of one error per restart.
 */
export function loadConfig<S extends Schema>(schema: S, sources: ConfigSources = {}): ConfigOf<S> {
  const env = sources.env ?? process.env;
  let fileValues: Record<string, unknown> = {};
  if (sources.file) {
    try {
      fileValues = JSON.parse(readFileSync(sources.file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw invalidArgument(`config: cannot read ${sources.file}: ${(err as Error).message}`, { cause: err });
    }
  }
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) {
    const raw = sources.flags?.[key] ?? env[field.env] ?? (fileValues[field.env] === undefined ? undefined : String(fileValues[field.env]));
    if (raw === undefined || raw === '') {
      if ('default' in field) out[key] = field.default;
      else problems.push(`${field.env} is required${field.help ? `: ${field.help}` : ''}`);
      continue;
    }
    try {
      out[key] = field.parse(raw);
    } catch (err) {
      problems.push(`${field.env}: ${(err as Error).message}`);
    }
  }
  if (problems.length) throw invalidArgument(`invalid configuration: ${problems.join('; ')}`);
  return out as ConfigOf<S>;
}

/** A 32-byte secret in base64 or hex (key-encryption keys, peppers). */
function key32(raw: string): Buffer {
  const b = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  if (b.length !== 32) throw new Error('expected 32 bytes, base64 or hex encoded');
  return b;
}

/** Field parsers for loadConfig. */
export const parse = {
  string: (raw: string): string => raw,
  int: (raw: string): number => {
    if (!/^-?\d+$/.test(raw)) throw new Error(`expected a whole number, got "${raw}"`);
    return Number(raw);
  },
  port: (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n > 65535) throw new Error(`expected a port number 0-65535, got "${raw}"`);
    return n;
  },
  bool: (raw: string): boolean => {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new Error(`expected true or false, got "${raw}"`);
  },
  duration: (raw: string): number => parseDuration(raw, 'value'),
  url: (raw: string): string => {
    try {
      new URL(raw);
    } catch {
      throw new Error(`expected a URL, got "${raw.replace(/\/\/[^@/]*@/, '//***@')}"`);
    }
    return raw;
  },
  /** `host:port`, the port required. */
  hostPort: (raw: string): string => {
    if (!/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/.test(raw)) throw new Error(`expected host:port, got "${raw}"`);
    return raw;
  },
  /** A 32-byte secret in base64 or hex (key-encryption keys, peppers). */
  key32: key32,
  list: (raw: string): string[] => raw.split(',').map((s) => s.trim()).filter(Boolean),
  /** Comma-separated 32-byte secrets, each base64 or hex (the previous keys of a rotation). */
  key32List: (raw: string): Buffer[] =>
    raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s, i) => {
        try {
          return key32(s);
        } catch (err) {
          throw new Error(`key ${i + 1}: ${(err as Error).message}`);
        }
      }),
};

/** Shorthand for a field definition. */
export function field<T>(env: string, p: (raw: string) => T, def?: T, help?: string): ConfigField<T> {
  const f: ConfigField<T> = { env, parse: p };
  if (def !== undefined) f.default = def;
  if (help !== undefined) f.help = help;
  return f;
}
