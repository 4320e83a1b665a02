import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

// On Node 20, exporting a JWK of a key made by generateKeyPairSync can deadlock the
// process for good: a garbage collection during the export collects the key-generation
// job, whose destructor waits for the mutex the export holds. mezd encodes a fresh key
// per renewal; with JWK exports a renewing fleet hung within seconds. encodePublicKey
// reads the SPKI DER instead. This runs the pattern hard, in a process of its own (a
// deadlock there cannot hang jest), on the build.
const dist = join(__dirname, '..', 'dist', 'index.js');

test('encoding freshly generated keys under garbage-collection pressure never deadlocks', () => {
  if (!existsSync(dist)) throw new Error('packages/ssh/dist is missing: run node scripts/build.mjs first');
  const script = `
    const { generateKeyPairSync } = require('node:crypto');
    const ssh = require(${JSON.stringify(dist)});
    const junk = [];
    const end = Date.now() + 3000;
    let n = 0;
    while (Date.now() < end) {
      for (const [type, opts] of [['ec', { namedCurve: 'P-256' }], ['ec', { namedCurve: 'P-384' }], ['ed25519', undefined]]) {
        const { privateKey, publicKey } = generateKeyPairSync(type, opts);
        for (let j = 0; j < 50; j++) junk.push({ a: new Array(20).fill(j) });
        if (junk.length > 20000) junk.length = 0;
        if (!ssh.encodePublicKey(privateKey).equals(ssh.encodePublicKey(publicKey))) throw new Error('halves differ');
        ssh.sshSigner(privateKey);
        n++;
      }
    }
    process.stdout.write(String(n));
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  expect({ signal: r.signal, status: r.status, stderr: r.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
  expect(Number(r.stdout)).toBeGreaterThan(100);
}, 40_000);
