import { FakeClock, isMeziteError } from '@mezite/identity';
import { clientAuthKeys, FailureLimiter, sourceAddress } from './failure-limiter';

describe('FailureLimiter', () => {
  test('refuses a key after maxFailures failures and lets it through again once drained', async () => {
    const clock = new FakeClock();
    const l = new FailureLimiter({ clock, maxFailures: 3, windowMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      expect(() => l.check(['client:a'])).not.toThrow();
      await l.fail(['client:a', 'source:1.2.3.4']);
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

  test('fail returns each key’s failures in the window', async () => {
    const l = new FailureLimiter({ clock: new FakeClock(), maxFailures: 3, windowMs: 60_000 });
    await l.fail(['a']);
    expect(await l.fail(['a', 'b'])).toEqual([2, 1]);
  });

  test('bounds the number of tracked keys', async () => {
    const l = new FailureLimiter({ clock: new FakeClock(), maxFailures: 1, windowMs: 60_000, maxKeys: 10 });
    for (let i = 0; i < 100; i++) await l.fail([`source:${i}`]);
    expect(() => l.check(['source:0'])).not.toThrow();
    expect(() => l.check(['source:99'])).toThrow();
  });

  test('shared counts need a name', () => {
    expect(() => new FailureLimiter({ clock: new FakeClock(), maxFailures: 1, windowMs: 1, shared: { incr: async () => 1 } })).toThrow(/name/);
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

describe('clientAuthKeys: failures from other sources never refuse a correct secret (issue 14)', () => {
  test('an attacker failing from source A is refused; the client from source B is not, and A cannot try other clients unboundedly', async () => {
    const l = new FailureLimiter({ clock: new FakeClock(), maxFailures: 5, windowMs: 60_000 });
    const fromA = clientAuthKeys('svc-deployer', '203.0.113.7', true);
    for (let i = 0; i < 50; i++) {
      try {
        l.check(fromA.check);
      } catch {
        continue;
      }
      await l.fail(fromA.fail);
    }
    expect(() => l.check(fromA.check)).toThrow(/too many failed attempts/);
    // The owner, elsewhere: never refused for A's failures.
    expect(() => l.check(clientAuthKeys('svc-deployer', '198.51.100.2').check)).not.toThrow();
    // A, trying another client: still refused (the per-source limit).
    expect(() => l.check(clientAuthKeys('svc-other', '203.0.113.7').check)).toThrow(/too many failed attempts/);
  });

  test('the client id alone is counted (for the alert) only when known, and never checked', () => {
    expect(clientAuthKeys('c', 's').check).toEqual(['client-source:c s', 'source:s']);
    expect(clientAuthKeys('c', 's').fail).toEqual(['client-source:c s', 'source:s']);
    expect(clientAuthKeys('c', undefined, true).fail).toEqual(['client-source:c unknown', 'source:unknown', 'client:c']);
    expect(clientAuthKeys('x'.repeat(300), 's').check[0]).toHaveLength('client-source: s'.length + 256);
  });
});
