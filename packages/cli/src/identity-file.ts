import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { invalidArgument } from '@mezite/identity';

/** The admin identity file the auth-server writes on its host (see auth-server's AdminIdentityFile). */
export interface IdentityFile {
  version: number;
  auth_server: string;
  http_url?: string;
  ca_cert: string;
  token: string;
  principal?: string;
  tenant?: string;
}

/**
 * Where `mezctl` looks for an identity when none is named: the stack's data dir
 * (`MEZITE_DATA_DIR`), `./.mezite`, then the checkout the CLI runs from — so on the
 * machine that runs the quickstart, `mezctl` is the bootstrap admin with no flags.
 */
export function defaultIdentityPaths(env: NodeJS.ProcessEnv, repoRoot?: string): string[] {
  const out: string[] = [];
  if (env.MEZITE_DATA_DIR) out.push(join(resolve(env.MEZITE_DATA_DIR), 'admin-identity.json'));
  out.push(resolve('.mezite', 'admin-identity.json'));
  if (repoRoot) out.push(join(repoRoot, '.mezite', 'admin-identity.json'));
  return [...new Set(out)];
}

/** Reads and checks an identity file; a named file that is missing or malformed is an error. */
export function readIdentityFile(path: string): IdentityFile {
  let parsed: Partial<IdentityFile>;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<IdentityFile>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw invalidArgument(`cannot read identity file ${path}: ${code === 'ENOENT' ? 'no such file' : code ?? 'not valid JSON'}`, { cause: err });
  }
  if (typeof parsed.auth_server !== 'string' || typeof parsed.ca_cert !== 'string' || typeof parsed.token !== 'string') {
    throw invalidArgument(`identity file ${path} is missing auth_server, ca_cert or token`);
  }
  return parsed as IdentityFile;
}

/** The first default identity file that exists, if any. */
export function findIdentityFile(env: NodeJS.ProcessEnv, repoRoot?: string): string | undefined {
  return defaultIdentityPaths(env, repoRoot).find((p) => existsSync(p));
}
