import { FakeClock, isMeziteError } from '@mezite/identity';
import { FailureLimiter, sourceAddress } from './failure-limiter';

describe('FailureLimiter', () => {
  test('refuses a key after maxFailures failures and lets it through again once drained', () => {
    const clock = new FakeClock();
    const l = new FailureLimiter({ clock, maxFailures: 3, windowMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      expect(() => l.check(['client:a'])).not.toThrow();
      l.fail(['client:a', 'source:1.2.3.4']);
    }
    let err: unknown;
    try {
      l.check(['client:a']);
    } catch (e) {
      err = e;
    }
    expect(isMeziteError(err, 'ResourceExhausted')).toBe(true);
    expect(() => l.check(['client:b'])).not.toThrow();
    expect(() => l.check(['client:b', 'source:1.2.3.4'])).toThrow(/too many failed attempts/);
    clock.advance(20_001);
    expect(() => l.check(['client:a'])).not.toThrow();
  });

  test('bounds the number of tracked keys', () => {
    const l = new FailureLimiter({ clock: new FakeClock(), maxFailures: 1, windowMs: 60_000, maxKeys: 10 });
    for (let i = 0; i < 100; i++) l.fail([`source:${i}`]);
    expect(() => l.check(['source:0'])).not.toThrow();
    expect(() => l.check(['source:99'])).toThrow();
  });

  test.each([
    ['ipv4:127.0.0.1:5555', '127.0.0.1'],
    ['ipv6:[::1]:5555', '::1'],
    ['10.0.0.1', '10.0.0.1'],
    [undefined, 'unknown'],
  ])('sourceAddress(%s) = %s', (peer, want) => {
    expect(sourceAddress(peer)).toBe(want);
  });
});
