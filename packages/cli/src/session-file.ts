import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { invalidArgument } from '@mezite/identity';

/** A person's session after `mezctl login`, kept until it expires or `mezctl logout`. */
export interface SessionFile {
  version: 1;
  /** gRPC address of the auth server the session belongs to; it is sent nowhere else. */
  auth_server: string;
  /** PEM of the CA that server's certificate chains to. */
  ca_cert: string;
  /** The session's bearer secret (`mzs_…`). */
  token: string;
  /** RFC 3339. */
  expires_at: string;
  /** `user:<uuid>`. */
  principal: string;
}

/** `MEZITE_HOME`, else `~/.mezite`: where the CLI keeps a person's state. */
export function meziteHome(env: NodeJS.ProcessEnv): string {
  return env.MEZITE_HOME || join(env.HOME || homedir(), '.mezite');
}

/** `<MEZITE_HOME>/session.json`. */
export function sessionFilePath(env: NodeJS.ProcessEnv): string {
  return join(meziteHome(env), 'session.json');
}

/**
 * The saved session, or undefined when there is none. A file that exists but is not a
 * session is an error naming it (`mezctl logout` removes it whatever its state).
 */
export function readSessionFile(env: NodeJS.ProcessEnv): SessionFile | undefined {
  const path = sessionFilePath(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalidArgument(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`, { cause: err });
  }
  let s: Partial<SessionFile>;
  try {
    s = JSON.parse(text) as Partial<SessionFile>;
  } catch (err) {
    throw invalidArgument(`${path} is not valid JSON; run mezctl logout, then mezctl login`, { cause: err });
  }
  if (s.version !== 1 || typeof s.auth_server !== 'string' || typeof s.ca_cert !== 'string' || typeof s.token !== 'string' || typeof s.expires_at !== 'string' || typeof s.principal !== 'string') {
    throw invalidArgument(`${path} is not a session file of this mezctl; run mezctl logout, then mezctl login`);
  }
  return s as SessionFile;
}

/** True while the session has not expired by the local clock. */
export function isLive(s: SessionFile, now: Date): boolean {
  const t = Date.parse(s.expires_at);
  return Number.isFinite(t) && t > now.getTime();
}

/** Saves the session readable by its owner only (0600 in a 0700 directory), atomically. */
export function writeSessionFile(env: NodeJS.ProcessEnv, s: SessionFile): string {
  const path = sessionFilePath(env);
  mkdirSync(meziteHome(env), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
  return path;
}

/** Removes the saved session, if any. */
export function removeSessionFile(env: NodeJS.ProcessEnv): void {
  rmSync(sessionFilePath(env), { force: true });
}
