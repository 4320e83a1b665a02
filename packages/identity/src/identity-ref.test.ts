import { formatIdentityRef, parseIdentityRef } from './identity-ref';

describe('identity refs', () => {
  test('parse and format round-trip', () => {
    const text = 'service:0b5cbb4e-7d35-4d43-9f0a-6d1c2c9b3a11';
    expect(formatIdentityRef(parseIdentityRef(text))).toBe(text);
    expect(parseIdentityRef('user:0B5CBB4E-7D35-4D43-9F0A-6D1C2C9B3A11')).toEqual({ kind: 'user', id: '0b5cbb4e-7d35-4d43-9f0a-6d1c2c9b3a11' });
  });
  test.each(['', 'service', 'service:', 'bot:0b5cbb4e-7d35-4d43-9f0a-6d1c2c9b3a11', 'user:not-a-uuid', ':x'])('refuses %j', (t) => {
    expect(() => parseIdentityRef(t)).toThrow(/invalid identity ref/);
  });
});
