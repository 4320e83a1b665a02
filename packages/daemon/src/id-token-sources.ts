import { readFileSync } from 'node:fs';
import { joinAudience, unavailable } from '@mezite/identity';
import { UsageError } from './errors';

/** The tenant a join reference without `TENANT/` names (the auth server's default). */
const DEFAULT_TENANT = 'default';

/**
 * The audience mezd asks GitHub for: the one the join-token resource names, or by
 * default `mezite:TENANT/NAME` (joinAudience), which the auth server expects when the
 * resource names none.
 */
export function audienceFor(joinToken: string, configured: string | undefined): string {
  if (configured) return configured;
  return joinAudience(...((joinToken.includes('/') ? joinToken.split('/', 2) : [DEFAULT_TENANT, joinToken]) as [string, string]));
}

/**
 * Fetches the job's GitHub Actions ID token through the runner's protocol: GET
 * `ACTIONS_ID_TOKEN_REQUEST_URL` (which already carries a query) with `&audience=`,
 * bearer `ACTIONS_ID_TOKEN_REQUEST_TOKEN`; the JWT is the response's `value`. Called for
 * each join: a token is used once (the auth server remembers its jti).
 */
export async function fetchGithubIdToken(env: NodeJS.ProcessEnv, audience: string, o: { timeoutMs?: number; tries?: number } = {}): Promise<string> {
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !bearer) throw new UsageError('--join-method=github needs ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN: run inside a GitHub Actions job with `permissions: id-token: write`');
  const full = `${url}${url.includes('?') ? '&' : '?'}audience=${encodeURIComponent(audience)}`;
  const tries = o.tries ?? 3;
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      const res = await fetch(full, { headers: { authorization: `Bearer ${bearer}`, accept: 'application/json; api-version=2.0' }, signal: AbortSignal.timeout(o.timeoutMs ?? 10_000) });
      if (res.status >= 400 && res.status < 500) throw new UsageError(`GitHub refused the ID token request (HTTP ${res.status}); check the job's \`permissions: id-token: write\``);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as { value?: unknown };
      if (typeof body.value !== 'string' || body.value === '') throw new Error('the response has no token in "value"');
      return body.value;
    } catch (err) {
      if (err instanceof UsageError) throw err;
      last = err;
    }
  }
  throw unavailable(`cannot get the GitHub Actions ID token: ${(last as Error)?.message ?? 'unknown error'}`, { cause: last });
}

/** A GitLab job's `id_tokens` JWT, from the environment variable the job named. */
export function gitlabIdToken(env: NodeJS.ProcessEnv, name: string): string {
  const t = env[name]?.trim();
  if (!t) throw new UsageError(`--join-method=gitlab: ${name} is not set; declare it in the job: id_tokens: { ${name}: { aud: <the resource's audience> } }`);
  return t;
}

/** A pod's projected service-account token, read afresh for each join (kubelet rotates the file). */
export function kubernetesIdToken(path: string): string {
  let t: string;
  try {
    t = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`--join-method=kubernetes: cannot read the service-account token ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); project one with the auth server's audience`);
  }
  if (!t) throw new UsageError(`--join-method=kubernetes: ${path} is empty`);
  return t;
}
