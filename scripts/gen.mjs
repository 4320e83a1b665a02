// Regenerates the protobuf contracts into packages/proto/src/gen (committed; CI
// regenerates and fails on a diff), after linting them.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const buf = join(root, 'node_modules', '.bin', 'buf');
const cwd = join(root, 'proto');
execFileSync(buf, ['lint'], { cwd, stdio: 'inherit' });
execFileSync(buf, ['generate', '--clean'], { cwd, stdio: 'inherit' });
