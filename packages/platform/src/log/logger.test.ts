import { createLogger, scrub } from './logger';

describe('logger', () => {
  test('writes one JSON object per line with service and child fields', () => {
    const lines: string[] = [];
    const log = createLogger({ service: 'x', level: 'debug', write: (l) => lines.push(l) }).child({ request_id: 'r1' });
    log.info('hello', { n: 1 });
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 'info', service: 'x', msg: 'hello', request_id: 'r1', n: 1 });
  });

  test('drops lines below the level', () => {
    const lines: string[] = [];
    createLogger({ service: 'x', level: 'warn', write: (l) => lines.push(l) }).info('no');
    expect(lines).toHaveLength(0);
  });

  test('never writes a secret, by key or by shape', () => {
    const lines: string[] = [];
    const log = createLogger({ service: 'x', write: (l) => lines.push(l) });
    log.info('joined with tok-bot-abcdef0123456789', { client_secret: 'hunter2', nested: { note: 'psk_live_ABCDEFGHIJKLMNOP' }, err: new Error('bad psk_dev_QWERTYUIOPASDF') });
    const out = lines.join('\n');
    expect(out).not.toMatch(/abcdef0123456789|hunter2|ABCDEFGHIJKLMNOP|QWERTYUIOPASDF/);
    expect(out).toContain('tok-bot-[redacted]');
    expect(scrub('mzadm_0123456789abcdef')).toBe('mzadm_[redacted]');
  });
});

describe('the default stdout writer', () => {
  test('the lines of one tick go out in one write, in order, after the tick', async () => {
    const writes: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (writes.push(String(chunk)), true));
    try {
      const log = createLogger({ service: 'x', level: 'info' });
      log.info('one');
      log.child({ c: 1 }).warn('two');
      log.debug('dropped');
      expect(writes).toEqual([]);
      await new Promise((r) => setImmediate(r));
      expect(writes).toHaveLength(1);
      expect(writes[0]?.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['one', 'two']);
    } finally {
      spy.mockRestore();
    }
  });
});
