import { cutText, DestinationHealthLog, machineHeartbeat, MAX_HEALTH_ERROR_LENGTH } from './heartbeat';

test.each([
  ['short text is kept', 'EACCES', 'EACCES'],
  ['long text is cut to 200', 'x'.repeat(250), 'x'.repeat(200)],
  ['half a surrogate pair is dropped, not sent', `${'x'.repeat(199)}😀tail`, 'x'.repeat(199)],
  ['a whole pair at the end stays', `${'x'.repeat(198)}😀tail`, `${'x'.repeat(198)}😀`],
])('cutText: %s', (_name, input, expected) => {
  expect(cutText(input)).toBe(expected);
  expect(cutText(input).length).toBeLessThanOrEqual(MAX_HEALTH_ERROR_LENGTH);
});

test('a failed write keeps the time of the last successful one; a destination never written is not reported', () => {
  const log = new DestinationHealthLog();
  expect(log.list()).toEqual([]);
  const t1 = new Date('2026-03-24T12:00:00Z');
  log.written('directory:/a', t1);
  log.failed('kubernetes-secret://ns/b', new Error('secrets "b" is forbidden'));
  log.failed('directory:/a', new Error('ENOSPC: no space left on device'));
  expect(log.list()).toEqual([
    { destination: 'directory:/a', healthy: false, error: 'ENOSPC: no space left on device', updateTime: t1 },
    { destination: 'kubernetes-secret://ns/b', healthy: false, error: 'secrets "b" is forbidden' },
  ]);
  const t2 = new Date('2026-03-24T12:20:00Z');
  log.written('directory:/a', t2);
  expect(log.list()[0]).toEqual({ destination: 'directory:/a', healthy: true, error: '', updateTime: t2 });
});

test('one-shot reports no interval', () => {
  expect(machineHeartbeat({ renewalIntervalMs: 20 * 60_000, oneShot: true })).toMatchObject({ renewalIntervalSeconds: 0, oneShot: true });
  expect(machineHeartbeat({ renewalIntervalMs: 20 * 60_000, oneShot: false })).toMatchObject({ renewalIntervalSeconds: 1200, oneShot: false });
});
