import { internal, permissionDenied, unavailable } from '@mezite/identity';
import { nullLogger } from '../log/logger';
import { countOutcome, meziteMetrics, metricsRegistry, observePool, outcomeOf, refusalReason } from './metrics';
import { startMetricsServer } from './metrics-server';

test.each([
  [permissionDenied('no'), 'refused'],
  [unavailable('down'), 'error'],
  [internal('bug'), 'error'],
  [new Error('plain'), 'error'],
])('outcomeOf(%p) is %s', (err, outcome) => {
  expect(outcomeOf(err)).toBe(outcome);
});

test('refusal reasons are the domain codes in snake case', () => {
  expect(refusalReason('PermissionDenied')).toBe('permission_denied');
  expect(refusalReason('ResourceExhausted')).toBe('resource_exhausted');
  expect(refusalReason('Unauthenticated')).toBe('unauthenticated');
});

test('countOutcome counts success, refusal and error, and passes results and errors through', async () => {
  const c = meziteMetrics.tokenVerifications;
  const value = async (result: string) => (await c.get()).values.find((v) => v.labels.kind === 'unit' && v.labels.result === result)?.value ?? 0;
  await expect(countOutcome(c, { kind: 'unit' }, async () => 42)).resolves.toBe(42);
  await expect(countOutcome(c, { kind: 'unit' }, async () => Promise.reject(permissionDenied('no')))).rejects.toMatchObject({ code: 'PermissionDenied' });
  await expect(countOutcome(c, { kind: 'unit' }, async () => Promise.reject(unavailable('down')))).rejects.toMatchObject({ code: 'Unavailable' });
  expect([await value('success'), await value('refused'), await value('error')]).toEqual([1, 1, 1]);
});

test('/metrics serves the registry in Prometheus text format, pools included; anything else is 404/405', async () => {
  observePool('unit', { totalCount: 4, idleCount: 1, waitingCount: 2, options: { max: 8 } });
  const server = await startMetricsServer({ addr: '127.0.0.1:0', log: nullLogger });
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(metricsRegistry().contentType);
    const text = await res.text();
    expect(text).toContain('mezite_db_pool_connections{pool="unit",state="busy"} 3');
    expect(text).toContain('mezite_db_pool_connections{pool="unit",state="idle"} 1');
    expect(text).toContain('mezite_db_pool_waiting{pool="unit"} 2');
    expect(text).toContain('mezite_db_pool_max_connections{pool="unit"} 8');
    expect(text).toMatch(/^# TYPE mezite_bot_joins_total counter$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: 'POST' })).status).toBe(405);
  } finally {
    await server.close();
  }
});
