import { TrustedProxies } from './trusted-proxies';

describe('TrustedProxies: whose X-Forwarded-For is believed', () => {
  const ingress = new TrustedProxies(['10.0.0.0/8', 'fd00::/8', '192.0.2.7']);

  test('nothing trusted: the peer is the client, the header is ignored', () => {
    const none = new TrustedProxies([]);
    expect(none.clientAddress('10.1.2.3', '203.0.113.9')).toBe('10.1.2.3');
    expect(none.clientAddress('::ffff:10.1.2.3', undefined)).toBe('10.1.2.3');
  });

  test('a trusted peer: the rightmost entry that is not a trusted proxy is the client', () => {
    expect(ingress.clientAddress('10.1.2.3', '203.0.113.9')).toBe('203.0.113.9');
    expect(ingress.clientAddress('::ffff:10.1.2.3', '203.0.113.9, 10.4.4.4')).toBe('203.0.113.9');
    expect(ingress.clientAddress('fd00::1', '2001:db8::5')).toBe('2001:db8::5');
    expect(ingress.clientAddress('192.0.2.7', ['198.51.100.1', '10.9.9.9'])).toBe('198.51.100.1');
  });

  test('what the client wrote itself (left of the proxy\'s entry) is not believed', () => {
    // The client sends "X-Forwarded-For: 1.1.1.1"; the ingress appends the address it saw.
    expect(ingress.clientAddress('10.1.2.3', '1.1.1.1, 203.0.113.9')).toBe('203.0.113.9');
  });

  test('an untrusted peer is the client whatever it claims', () => {
    expect(ingress.clientAddress('203.0.113.9', '10.0.0.1')).toBe('203.0.113.9');
    expect(ingress.clientAddress('198.51.100.20', '1.1.1.1')).toBe('198.51.100.20');
  });

  test('ports, brackets and garbage: ports dropped; a hop that is not an address ends the walk at the last trusted hop', () => {
    expect(ingress.clientAddress('10.1.2.3', '203.0.113.9:5555')).toBe('203.0.113.9');
    expect(ingress.clientAddress('10.1.2.3', '[2001:db8::5]:443')).toBe('2001:db8::5');
    expect(ingress.clientAddress('10.1.2.3', 'unknown')).toBe('10.1.2.3');
    expect(ingress.clientAddress('10.1.2.3', '203.0.113.9, garbage, 10.4.4.4')).toBe('10.4.4.4');
    expect(ingress.clientAddress('10.1.2.3', '')).toBe('10.1.2.3');
    // Only trusted hops: the leftmost of them is as far as anyone can tell.
    expect(ingress.clientAddress('10.1.2.3', '10.4.4.4, 10.5.5.5')).toBe('10.4.4.4');
  });

  test('configuration errors name the entry', () => {
    expect(() => new TrustedProxies(['10.0.0.0/33'])).toThrow(/10\.0\.0\.0\/33/);
    expect(() => new TrustedProxies(['ingress.local'])).toThrow(/ingress\.local/);
    expect(() => new TrustedProxies(['fd00::/129'])).toThrow(/fd00::\/129/);
  });
});
