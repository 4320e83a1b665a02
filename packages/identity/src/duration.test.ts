import { formatDuration, parseDuration } from './duration';
import { isMeziteError } from './errors';

describe('parseDuration', () => {
  test.each([
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['250ms', 250],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each(['', '60', 'h', '1x', '-1h', '0s', '1h 30m', '1hh'])('refuses %j with InvalidArgument naming the flag', (text) => {
    let caught: unknown;
    try {
      parseDuration(text, '--token-ttl');
    } catch (e) {
      caught = e;
    }
    expect(isMeziteError(caught, 'InvalidArgument')).toBe(true);
    expect((caught as Error).message).toMatch(/^--token-ttl: /);
  });

  test('formatDuration reads back', () => {
    for (const t of ['1h', '1h30m', '45s', '2d3h']) expect(formatDuration(parseDuration(t))).toBe(t);
  });
});
