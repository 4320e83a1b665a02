import { ServerCredentials } from '@grpc/grpc-js';
import { nullLogger } from '../log/logger';
import { runHealthProbe } from './health-probe';
import { createGrpcServer } from './server';

function probe(argv: string[]) {
  const out = { stdout: '', stderr: '' };
  return runHealthProbe(argv, { stdout: (s) => (out.stdout += s), stderr: (s) => (out.stderr += s) }, 1000).then((code) => ({ code, ...out }));
}

test('mezite-health: 0 when SERVING, 1 when not serving or unreachable, 2 on usage', async () => {
  const s = createGrpcServer({ name: 'mezite.test.v1.Svc', logger: nullLogger });
  await s.listen('127.0.0.1:0', ServerCredentials.createInsecure(), { deferServing: true });
  const port = await s.listenHealth('127.0.0.1:0');
  expect(await probe([`127.0.0.1:${port}`])).toMatchObject({ code: 1, stderr: `mezite-health: 127.0.0.1:${port}: NOT_SERVING\n` });
  s.serving();
  expect(await probe([`127.0.0.1:${port}`])).toEqual({ code: 0, stdout: 'SERVING\n', stderr: '' });
  expect(await probe([`127.0.0.1:${port}`, 'mezite.test.v1.Svc'])).toMatchObject({ code: 0 });
  expect((await probe([`127.0.0.1:${port}`, 'no.such.Service'])).code).toBe(1);
  await s.shutdown(100);
  expect(await probe([`127.0.0.1:${port}`])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^mezite-health: 127\.0\.0\.1:\d+: /) });
  for (const bad of [[], ['nohost'], ['a:1', 'b', 'c'], ['http://x:1']]) expect((await probe(bad)).code).toBe(2);
});
