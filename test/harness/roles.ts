import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBin } from './cli';

/** Seed 002's role, word for word. */
export const CI_DEPLOYER_ROLE = `kind: role
metadata:
  name: ci-deployer
  description: "CI/CD deploy pipeline SSH access"
spec:
  options:
    max_session_ttl: 1h
  allow:
    node_labels:
      env:
        - staging
        - production
    logins:
      - deploy
  deny:
    logins:
      - root
`;

/** Creates a role through `mezctl create -f`, as an admin would; throws with the CLI's output on failure. */
export async function createRole(cliEnv: NodeJS.ProcessEnv, yaml: string = CI_DEPLOYER_ROLE): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mezite-role-'));
  writeFileSync(join(dir, 'role.yaml'), yaml);
  const r = await runBin('mezctl', ['create', '-f', join(dir, 'role.yaml')], { env: cliEnv });
  if (r.code !== 0) throw new Error(`mezctl create -f failed: ${r.stderr}`);
}
