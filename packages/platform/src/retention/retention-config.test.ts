import { parseRetentionAge, parseRetentionInterval } from './retention-config';

test.each([
  ['7d', 7 * 24 * 3600_000],
  ['1h', 3600_000],
  ['off', 0],
  ['OFF', 0],
])('MEZITE_RETENTION_MAX_AGE=%s', (raw, ms) => {
  expect(parseRetentionAge(raw)).toBe(ms);
});

test.each(['0', '59m', 'soon', '-1d'])('MEZITE_RETENTION_MAX_AGE=%s is refused', (raw) => {
  expect(() => parseRetentionAge(raw)).toThrow();
});

test('MEZITE_RETENTION_INTERVAL: at least a minute', () => {
  expect(parseRetentionInterval('1h')).toBe(3600_000);
  expect(() => parseRetentionInterval('10s')).toThrow(/at least 1m/);
});
