import { isLoopbackHost, requireSecureUrl } from './secure-url';

describe('isLoopbackHost', () => {
  test.each(['localhost', 'LOCALHOST', 'localhost.', 'app.localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1', '[::ffff:127.0.0.1]'])('%s is loopback', (h) => {
    expect(isLoopbackHost(h)).toBe(true);
  });
  test.each(['example.com', 'localhost.example.com', '10.0.0.1', '128.0.0.1', '0.0.0.0', '[::]', '[2001:db8::1]', '127.0.0.1.nip.io', 'mylocalhost'])('%s is not', (h) => {
    expect(isLoopbackHost(h)).toBe(false);
  });
});

describe('requireSecureUrl', () => {
  test('https anywhere, http on loopback only', () => {
    expect(requireSecureUrl('https://idp.example.com/token', 'x').host).toBe('idp.example.com');
    expect(requireSecureUrl('http://127.0.0.1:9000/token', 'x').port).toBe('9000');
    expect(requireSecureUrl('http://[::1]:9000/token', 'x').hostname).toBe('[::1]');
    expect(() => requireSecureUrl('http://idp.example.com/token', 'token_endpoint')).toThrow('token_endpoint: expected an https URL (http only on localhost, 127.0.0.0/8 or [::1]), got http://idp.example.com');
    expect(() => requireSecureUrl('ftp://127.0.0.1/', 'x')).toThrow('expected an https URL');
    expect(() => requireSecureUrl('not a url', 'x')).toThrow('x: expected an https URL, got "not a url"');
  });
});
