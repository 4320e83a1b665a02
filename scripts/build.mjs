// Builds every package: Prisma clients first (they are generated, not committed),
// then one incremental `tsc -b` over the project references.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const services = ['auth-server', 'token-service', 'ssh-ca'];
// `prisma generate` does not need the schema engine, but Prisma tries to download
// it unless a binary is named; there is no download here (docs/DECISIONS.md).
const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? '/bin/false', PRISMA_HIDE_UPDATE_MESSAGE: '1' };
for (const s of services) {
  const dir = join(root, 'services', s);
  if (!existsSync(join(dir, 'prisma', 'schema.prisma'))) continue;
  try {
    execFileSync(join(dir, 'node_modules', '.bin', 'prisma'), ['generate'], { cwd: dir, env, stdio: 'pipe' });
  } catch (err) {
    process.stderr.write(`prisma generate failed in services/${s}:\n${err.stdout ?? ''}${err.stderr ?? ''}\n`);
    process.exit(1);
  }
}
try {
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-b', join(root, 'tsconfig.json')], { stdio: 'inherit' });
} catch {
  process.stderr.write('build failed: see the TypeScript errors above\n');
  process.exit(1);
}
