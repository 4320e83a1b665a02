import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { authv1 } from '@mezite/proto';
import { FakeAuthServer } from '../fake-auth-server';
import { parseSince } from './audit';

const now = new Date('2026-03-24T14:00:00Z');

describe('parseSince', () => {
  test.each([
    ['1h', '2026-03-24T13:00:00.000Z'],
    ['90m', '2026-03-24T12:30:00.000Z'],
    ['2d', '2026-03-22T14:00:00.000Z'],
    ['2026-03-24T10:00:00Z', '2026-03-24T10:00:00.000Z'],
    ['2026-03-24T12:00:00+02:00', '2026-03-24T10:00:00.000Z'],
    ['2026-03-24T10:00:00.5Z', '2026-03-24T10:00:00.500Z'],
  ])('%s', (text, iso) => {
    expect(parseSince(text, now).toISOString()).toBe(iso);
  });
  test.each(['yesterday', '2026-03-24', '60', '2026-13-45T99:00:00Z', ''])('refuses %j', (text) => {
    expect(() => parseSince(text, now)).toThrow(/^--since: /);
  });
});

const event = (id: string, time: string, type: string, target: string, result = 'success'): authv1.AuditEvent => ({
  id,
  time: new Date(time),
  type,
  actor: 'user:9f1c',
  target,
  result,
  requestId: `req-${id}`,
  details: {},
});

describe('mezctl audit ls', () => {
  let server: FakeAuthServer;
  beforeAll(async () => {
    server = await FakeAuthServer.start({ pageSize: 2 });
    server.events.push(
      event('e1', '2026-03-24T11:00:00Z', 'role.create', 'role:ci-deployer'),
      event('e2', '2026-03-24T13:10:00Z', 'bot.create', 'bot:github-deploy'),
      { ...event('e3', '2026-03-24T13:20:00Z', 'bot.join', 'bot:github-deploy', 'failure'), actor: 'mezite', details: { reason: 'token expired' } },
    );
  });
  afterAll(async () => server.stop());
  beforeEach(() => {
    server.calls.length = 0;
  });

  test('a table of every page, newest first', async () => {
    const r = await server.run(['audit', 'ls']);
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout:
        'TIME                  TYPE         ACTOR      TARGET             RESULT   REQUEST_ID\n' +
        '2026-03-24T13:20:00Z  bot.join     mezite     bot:github-deploy  failure  req-e3\n' +
        '2026-03-24T13:10:00Z  bot.create   user:9f1c  bot:github-deploy  success  req-e2\n' +
        '2026-03-24T11:00:00Z  role.create  user:9f1c  role:ci-deployer   success  req-e1\n',
    });
    expect(server.methods()).toEqual(['AuditService.ListAuditEvents', 'AuditService.ListAuditEvents']);
  });

  test('--since and --type go to the server', async () => {
    const r = await server.run(['audit', 'ls', '--since', '1h', '--type', 'bot.', '-o', 'json']);
    expect(server.calls[0]?.request).toEqual({ since: new Date('2026-03-24T13:00:00Z'), type: 'bot.', pageSize: 500, pageToken: '', requestId: '' });
    expect(JSON.parse(r.stdout)).toEqual({
      items: [
        { id: 'e3', time: '2026-03-24T13:20:00Z', type: 'bot.join', actor: 'mezite', target: 'bot:github-deploy', result: 'failure', request_id: 'req-e3', details: { reason: 'token expired' } },
        { id: 'e2', time: '2026-03-24T13:10:00Z', type: 'bot.create', actor: 'user:9f1c', target: 'bot:github-deploy', result: 'success', request_id: 'req-e2', details: {} },
      ],
    });
    const abs = await server.run(['audit', 'ls', '--since=2026-03-24T13:15:00Z']);
    expect(abs.stdout.split('\n').slice(1, -1).map((l) => l.split(/\s+/)[1])).toEqual(['bot.join']);
  });

  test('--limit stops paging and says so on stderr', async () => {
    const r = await server.run(['audit', 'ls', '--limit', '2']);
    expect(r.stdout.split('\n')).toHaveLength(4);
    expect(r.stderr).toBe('mezctl: showing the newest 2 events; narrow with --since or --type, or raise --limit\n');
    expect(server.calls).toHaveLength(1);
  });

  test('a bad --since is one line and no call', async () => {
    const r = await server.run(['audit', 'ls', '--since', 'yesterday']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Invalid argument: --since: expected a duration (1h) or an RFC 3339 time (2026-03-24T15:00:00Z), got "yesterday"\n' });
    expect(server.calls).toEqual([]);
  });
});

test('an auth server without AuditService gets one clear line', async () => {
  const server = await FakeAuthServer.start({ omit: ['audit'] });
  try {
    expect(await server.run(['audit', 'ls'])).toEqual({ code: 1, stdout: '', stderr: `mezctl: Not implemented: the auth server at ${server.address} does not implement AuditService.ListAuditEvents; it is older than this mezctl\n` });
  } finally {
    await server.stop();
  }
});

describe('mezctl audit verify', () => {
  let server: FakeAuthServer;
  beforeAll(async () => {
    server = await FakeAuthServer.start();
  });
  afterAll(async () => server.stop());

  test('reports an intact chain, and a broken one as a failure naming the record', async () => {
    server.auditChain = { ok: true, checked: 42, firstBadSeq: 0, problem: '' };
    expect(await server.run(['audit', 'verify'])).toEqual({ code: 0, stderr: '', stdout: 'Audit log intact: 42 records verified\n' });
    server.auditChain = { ok: false, checked: 6, firstBadSeq: 7, problem: 'record 7 was modified' };
    const r = await server.run(['audit', 'verify']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('mezctl: Failed precondition: audit log broken at record 7: record 7 was modified\n');
  });
});

describe('mezctl audit checkpoints', () => {
  let server: FakeAuthServer;
  let dir: string;
  beforeAll(async () => {
    server = await FakeAuthServer.start({ pageSize: 2 });
    dir = mkdtempSync(join(tmpdir(), 'mezctl-audit-'));
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    server.calls.length = 0;
  });

  const line = (seq: number) => ({ seq, hash: '07'.repeat(32), time: '2026-03-24T14:00:00.000Z', key_id: '0123456789abcdef', keyed_from: 1, signature: Buffer.alloc(64, 9).toString('base64') });

  test('checkpoint signs one now and prints it as a JSON line; checkpoints exports every page as JSON lines', async () => {
    for (const seq of [3, 5, 8]) {
      server.auditChain = { ok: true, checked: seq, firstBadSeq: 0, problem: '' };
      const r = await server.run(['audit', 'checkpoint']);
      expect(r).toEqual({ code: 0, stderr: '', stdout: `${JSON.stringify(line(seq))}\n` });
    }
    server.calls.length = 0;
    const r = await server.run(['audit', 'checkpoints']);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([line(3), line(5), line(8)]);
    expect(server.calls.map((c) => c.request)).toEqual([{ afterSeq: 0, pageSize: 1000 }, { afterSeq: 5, pageSize: 1000 }]);
    expect((await server.run(['audit', 'checkpoints', '--after', '5'])).stdout).toBe(`${JSON.stringify(line(8))}\n`);
  });

  test('verify --checkpoints sends the exported checkpoints; a break names the first bad record', async () => {
    const file = join(dir, 'checkpoints.jsonl');
    writeFileSync(file, `${JSON.stringify(line(3))}\n\n${JSON.stringify(line(8))}\n`);
    server.auditChain = { ok: true, checked: 8, firstBadSeq: 0, problem: '' };
    expect(await server.run(['audit', 'verify', '--checkpoints', file])).toEqual({ code: 0, stderr: '', stdout: 'Audit log intact: 8 records verified, 2 checkpoints match\n' });
    const sent = (server.calls[0]?.request as authv1.VerifyAuditLogRequest).checkpoints;
    expect(sent.map((c) => ({ seq: c.seq, hash: Buffer.from(c.hash).toString('hex'), keyId: c.keyId, keyedFrom: c.keyedFrom, signature: Buffer.from(c.signature).length }))).toEqual([
      { seq: 3, hash: '07'.repeat(32), keyId: '0123456789abcdef', keyedFrom: 1, signature: 64 },
      { seq: 8, hash: '07'.repeat(32), keyId: '0123456789abcdef', keyedFrom: 1, signature: 64 },
    ]);
    server.auditChain = { ok: false, checked: 6, firstBadSeq: 7, problem: 'the chain ends at record 6 but the checkpoint of 2026-03-24T14:00:00.000Z covers record 8: newest records were deleted' };
    const r = await server.run(['audit', 'verify', '--checkpoints', file, '-o', 'json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ ok: false, checked: 6, first_bad_seq: 7, problem: server.auditChain.problem });
    expect(r.stderr).toBe(`mezctl: Failed precondition: audit log broken at record 7: ${server.auditChain.problem}\n`);
  });

  test.each([
    ['{"seq": 3', 'line 1: not JSON'],
    [`${JSON.stringify(line(3))}\n{"seq": 4}`, 'line 2: expected seq, hash, time, key_id, keyed_from and signature'],
    ['\n', 'holds no checkpoint'],
  ])('a bad checkpoints file is one line and no call (%#)', async (text, why) => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, text);
    const r = await server.run(['audit', 'verify', '--checkpoints', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(why);
    expect(server.calls).toEqual([]);
  });
});
