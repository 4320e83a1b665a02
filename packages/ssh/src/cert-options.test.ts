import { decodeCertOptions, encodeCertOptions } from './cert-options';
import { SshWriter } from './wire';

const hex = (b: Buffer) => b.toString('hex');
const str = (s: string) => new SshWriter().string(s).toBuffer();

describe('certificate options encoding (PROTOCOL.certkeys)', () => {
  it('wraps a value in a second string and leaves a flag empty', () => {
    const b = encodeCertOptions({ 'permit-pty': '', 'force-command': '/bin/true' }, 'options');
    const expected = Buffer.concat([str('force-command'), new SshWriter().string(str('/bin/true')).toBuffer(), str('permit-pty'), str('')]);
    expect(hex(b)).toBe(hex(expected));
    expect(hex(b)).toContain('0000000d' + '00000009' + Buffer.from('/bin/true').toString('hex'));
  });

  it('sorts names by bytes, as strcmp does, not by locale', () => {
    const names = ['permit-pty', 'permit-agent-forwarding', 'permit-X11-forwarding', 'a@x', 'Z@x'];
    const decoded = decodeCertOptions(encodeCertOptions(Object.fromEntries(names.map((n) => [n, ''])), 'extensions'), 'extensions');
    expect(Object.keys(decoded)).toEqual(['Z@x', 'a@x', 'permit-X11-forwarding', 'permit-agent-forwarding', 'permit-pty']);
    expect(['permit-agent-forwarding', 'permit-X11-forwarding'].sort((a, b) => a.localeCompare(b))[0]).toBe('permit-agent-forwarding');
  });

  it('round-trips values, including a name like __proto__ as a plain property', () => {
    const opts = { 'source-address': '10.0.0.0/8', __proto__x: 'y', 'login@mezite.dev': 'é' };
    expect(decodeCertOptions(encodeCertOptions(opts, 'o'), 'o')).toEqual(opts);
    const proto = decodeCertOptions(Buffer.concat([str('__proto__'), str('')]), 'o');
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(Object.keys(proto)).toEqual(['__proto__']);
  });

  it('encodes nothing for no options', () => {
    expect(encodeCertOptions(undefined, 'o')).toHaveLength(0);
    expect(decodeCertOptions(Buffer.alloc(0), 'o')).toEqual({});
  });

  it.each([
    ['unsorted names', Buffer.concat([str('b'), str(''), str('a'), str('')]), /not sorted/],
    ['a repeated name', Buffer.concat([str('a'), str(''), str('a'), str('')]), /not sorted or repeat/],
    ['data that is not one string', Buffer.concat([str('a'), str('xyz')]), /truncated|trailing/],
    ['data with trailing bytes', Buffer.concat([str('a'), new SshWriter().string(Buffer.concat([str('v'), Buffer.of(0)])).toBuffer()]), /trailing/],
    ['a name without data', str('a'), /truncated/],
  ])('decoding refuses %s', (_name, field, message) => {
    expect(() => decodeCertOptions(field, 'extensions')).toThrow(expect.objectContaining({ code: 'InvalidArgument', message: expect.stringMatching(message) }));
  });
});
