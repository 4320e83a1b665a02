import { isMeziteError } from '@mezite/identity';
import { mpintBytes, SshReader, SshWriter } from './wire';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');

function expectInvalid(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isMeziteError(caught, 'InvalidArgument')).toBe(true);
}

describe('mpint (RFC 4251 §5 examples)', () => {
  const cases: [bigint, string][] = [
    [0n, '00000000'],
    [0x9a378f9b2e332a7n, '00000008 09a378f9b2e332a7'],
    [0x80n, '00000002 0080'],
    [-0x1234n, '00000002 edcc'],
    [-0xdeadbeefn, '00000005 ff21524111'],
    [0x7fn, '00000001 7f'],
    [-0x80n, '00000001 80'],
    [-0x81n, '00000002 ff7f'],
    [-1n, '00000001 ff'],
    [0xffn, '00000002 00ff'],
  ];
  it.each(cases)('%s encodes and decodes', (value, wire) => {
    expect(new SshWriter().mpint(value).toBuffer()).toEqual(hex(wire));
    const r = new SshReader(hex(wire));
    expect(r.mpint()).toBe(value);
    r.end();
  });

  it('unsigned magnitudes gain a zero byte only when the top bit is set', () => {
    expect(new SshWriter().unsignedMpint(hex('0080')).toBuffer()).toEqual(hex('00000002 0080'));
    expect(new SshWriter().unsignedMpint(hex('00007f')).toBuffer()).toEqual(hex('00000001 7f'));
    expect(new SshWriter().unsignedMpint(hex('0000')).toBuffer()).toEqual(hex('00000000'));
    expect(new SshReader(hex('00000002 0080')).unsignedMpint()).toEqual(hex('80'));
    // Only the minimal encoding: one key, one blob, one fingerprint.
    expectInvalid(() => new SshReader(hex('00000003 000080')).unsignedMpint());
    expectInvalid(() => new SshReader(hex('00000002 007f')).unsignedMpint());
    expectInvalid(() => new SshReader(hex('00000001 00')).unsignedMpint());
    expectInvalid(() => new SshReader(hex('00000001 80')).unsignedMpint());
  });

  it('refuses mpints beyond 16384 bits', () => {
    expectInvalid(() => mpintBytes(1n << 16400n));
    const big = Buffer.alloc(4 + 3000);
    big.writeUInt32BE(3000, 0);
    expectInvalid(() => new SshReader(big).mpint());
  });
});

describe('fixed-width integers and strings', () => {
  it('round-trips uint32, uint64, string and name-list', () => {
    const b = new SshWriter()
      .uint32(0xdeadbeef)
      .uint64((1n << 64n) - 1n)
      .string('héllo')
      .nameList(['a', 'b@example.com'])
      .nameList([])
      .toBuffer();
    expect(b.toString('hex')).toBe('deadbeef' + 'ff'.repeat(8) + '00000006' + Buffer.from('héllo').toString('hex') + '0000000f' + Buffer.from('a,b@example.com').toString('hex') + '00000000');
    const r = new SshReader(b);
    expect([r.uint32(), r.uint64(), r.text(), r.nameList(), r.nameList()]).toEqual([0xdeadbeef, (1n << 64n) - 1n, 'héllo', ['a', 'b@example.com'], []]);
    r.end();
  });

  it.each([
    ['uint32 negative', () => new SshWriter().uint32(-1)],
    ['uint32 too big', () => new SshWriter().uint32(2 ** 32)],
    ['uint32 fraction', () => new SshWriter().uint32(1.5)],
    ['uint64 negative', () => new SshWriter().uint64(-1n)],
    ['uint64 too big', () => new SshWriter().uint64(1n << 64n)],
    ['empty name', () => new SshWriter().nameList(['a', ''])],
    ['name with comma', () => new SshWriter().nameList(['a,b'])],
    ['non-ASCII name', () => new SshWriter().nameList(['é'])],
  ])('writer refuses %s', (_name, fn) => expectInvalid(fn));

  it.each([
    ['truncated uint32', '000000', (r: SshReader) => r.uint32()],
    ['truncated uint64', '00000000000000', (r: SshReader) => r.uint64()],
    ['string longer than the input', '00000005 61626364', (r: SshReader) => r.string()],
    ['string of length 2^32-1', 'ffffffff 00', (r: SshReader) => r.string()],
    ['empty input', '', (r: SshReader) => r.string()],
    ['text that is not UTF-8', '00000002 c328', (r: SshReader) => r.text()],
    ['text with NUL', '00000003 610062', (r: SshReader) => r.text()],
    ['name-list with empty name', '00000003 612c2c', (r: SshReader) => r.nameList()],
    ['name-list with space', '00000003 612062', (r: SshReader) => r.nameList()],
    ['trailing bytes', '00000001 61 00', (r: SshReader) => (r.string(), r.end())],
  ])('reader refuses %s with InvalidArgument', (_name, input, read) => {
    expectInvalid(() => read(new SshReader(hex(input))));
  });

  it('returns strings as views and tracks the position', () => {
    const input = hex('00000002 6162 00000000');
    const r = new SshReader(input);
    expect(r.string().toString()).toBe('ab');
    expect(r.position).toBe(6);
    expect(r.string()).toHaveLength(0);
    expect(r.remaining).toBe(0);
  });
});
