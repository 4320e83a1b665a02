import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBin, type CliResult } from './cli';

/** What `whoami --output json` prints. */
export interface WhoAmI {
  principal: string;
  subject: string;
  domain: string;
  acr: string;
  amr: string[];
}

/**
 * Runs `plexctl` as a machine would: only `PLEXSPHERE_URL` names the stack, and the
 * data dir is an empty temp dir, so no bootstrap admin identity can be picked up and
 * the only credential is the one on the command line.
 */
export async function runAsMachine(httpUrl: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mezite-machine-'));
  try {
    return await runBin('plexctl', args, {
      cwd: dataDir,
      env: { PLEXSPHERE_URL: httpUrl, MEZITE_IDENTITY: '', MEZITE_DATA_DIR: dataDir, MEZITE_AUTH_SERVER: '', MEZITE_CLIENT_SECRET: '' },
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** `plexctl ARGS --token-file F`, as a machine, with `token` as the only credential. */
export async function runWithToken(httpUrl: string, token: string, args: string[]): Promise<CliResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mezite-token-'));
  try {
    const file = join(dir, 'token');
    writeFileSync(file, token, { mode: 0o600 });
    return await runAsMachine(httpUrl, [...args, '--token-file', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `plexctl whoami --token-file F --output json` with `token` as the only credential. */
export async function whoamiWithToken(httpUrl: string, token: string): Promise<CliResult & { who?: WhoAmI }> {
  const r = await runWithToken(httpUrl, token, ['whoami', '--output', 'json']);
  return r.code === 0 ? { ...r, who: JSON.parse(r.stdout) as WhoAmI } : r;
}
