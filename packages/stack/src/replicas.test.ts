import { balancedTarget, replicaList } from './replicas';

describe('replica addresses', () => {
  test.each([
    ['127.0.0.1:3025', 1, ['127.0.0.1:3025']],
    ['127.0.0.1:3025', 3, ['127.0.0.1:3025', '127.0.0.1:3035', '127.0.0.1:3045']],
    ['127.0.0.1:4001, 127.0.0.1:5002', 2, ['127.0.0.1:4001', '127.0.0.1:5002']],
    ['[::1]:3026', 2, ['[::1]:3026', '[::1]:3036']],
  ])('%s for %i replicas', (spec, n, want) => {
    expect(replicaList(spec, n, 'authAddr')).toEqual(want);
  });

  test('a list of the wrong length, or no port, names the option', () => {
    expect(() => replicaList('127.0.0.1:1,127.0.0.1:2', 3, 'authAddr')).toThrow('authAddr: expected 3 comma-separated addresses (one per replica) or one host:port, got "127.0.0.1:1,127.0.0.1:2"');
    expect(() => replicaList('localhost', 2, 'httpAddr')).toThrow(/^httpAddr: /);
  });

  test.each([
    [['127.0.0.1:3026'], '127.0.0.1:3026'],
    [['localhost:3026'], 'localhost:3026'],
    [['127.0.0.1:3026', '127.0.0.1:3036'], 'ipv4:127.0.0.1:3026,127.0.0.1:3036'],
    [['[::1]:3026', '[::1]:3036'], 'ipv6:[::1]:3026,[::1]:3036'],
  ])('the auth-server dials %j as %s', (list, want) => {
    expect(balancedTarget(list)).toBe(want);
  });

  test('replicas on host names or mixed families cannot be one list target', () => {
    expect(() => balancedTarget(['localhost:1', 'localhost:2'])).toThrow(/IP addresses of one family/);
    expect(() => balancedTarget(['127.0.0.1:1', '[::1]:2'])).toThrow(/IP addresses of one family/);
  });
});
