import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { runBin } from '../harness/cli';
import { TestStack } from '../harness/test-stack';

type Rec = { id: string; tenantId: string | null; time: Date; type: string; actor: string; target: string; result: string; requestId: string; details: Record<string, string>; seq: number };
/** The chain's link before it was keyed: sha256(prev ‖ canonical JSON), as anyone reading the source can compute it. */
const chainHash = (prev: Buffer, e: Rec) =>
  createHash('sha256')
    .update(prev)
    .update(JSON.stringify([e.seq, e.id, e.tenantId, e.time.toISOString(), e.type, e.actor, e.target, e.result, e.requestId, Object.keys(e.details).sort().map((k) => [k, e.details[k]])]))
    .digest();

/**
 * `mezctl audit verify` against the real stack, after someone with write access to the
 * database rewrote the audit log: a record edited and every later link recomputed with
 * SHA-256 (the rule before the keyed chain), and the newest records deleted with the
 * head moved back, which only an exported checkpoint shows.
 */
describe('mezctl audit verify detects a database rewrite of the audit log', () => {
  let stack: TestStack;
  let db: Client;
  const mezctl = (...args: string[]) => runBin('mezctl', args, { env: stack.cliEnv });
  beforeAll(async () => {
    stack = await TestStack.start();
    db = new Client({ connectionString: stack.status().databaseUrl });
    await db.connect();
    writeFileSync(join(stack.dataDir, 'role.yaml'), 'kind: role\nmetadata:\n  name: r\nspec:\n  allow:\n    logins: [deploy]\n');
    expect((await mezctl('create', '-f', join(stack.dataDir, 'role.yaml'))).stderr).toBe('');
    for (const name of ['a', 'b', 'c']) expect((await mezctl('bots', 'add', `--name=${name}`, '--roles=r')).stderr).toBe('');
  }, 120_000);
  afterAll(async () => {
    await db?.end();
    await stack?.destroy();
  });

  const head = async () => Number((await db.query<{ seq: string }>('SELECT seq FROM auth.audit_chain_head')).rows[0]?.seq);

  test('an intact log verifies, also against the checkpoints exported from it', async () => {
    const cp = await mezctl('audit', 'checkpoint');
    expect(cp.stderr).toBe('');
    expect(JSON.parse(cp.stdout)).toMatchObject({ seq: await head(), key_id: expect.stringMatching(/^[0-9a-f]{16}$/) });
    const exported = await mezctl('audit', 'checkpoints');
    writeFileSync(join(stack.dataDir, 'checkpoints.jsonl'), exported.stdout);
    const r = await mezctl('audit', 'verify', '--checkpoints', join(stack.dataDir, 'checkpoints.jsonl'));
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: expect.stringMatching(/^Audit log intact: \d+ records verified, 1 checkpoints match\n$/) });
  });

  test('the newest records deleted and the head moved back: caught by the exported checkpoint, naming the first missing record', async () => {
    const n = await head();
    const keep = n - 2;
    await db.query('BEGIN');
    await db.query('DELETE FROM auth.audit_events WHERE seq > $1', [keep]);
    await db.query('DELETE FROM auth.audit_checkpoints');
    await db.query('UPDATE auth.audit_chain_head SET seq = $1, hash = (SELECT hash FROM auth.audit_events WHERE seq = $1)', [keep]);
    await db.query('COMMIT');
    const r = await mezctl('audit', 'verify', '--checkpoints', join(stack.dataDir, 'checkpoints.jsonl'), '-o', 'json');
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, first_bad_seq: keep + 1, problem: expect.stringMatching(/newest records were deleted/) });
    expect(r.stderr).toContain(`audit log broken at record ${keep + 1}`);
  });

  test('a record edited and every later link recomputed with SHA-256: caught by the keyed chain alone', async () => {
    const rows = (await db.query<{ seq: string }>('SELECT seq FROM auth.audit_events ORDER BY seq')).rows.map((x) => Number(x.seq));
    const target = rows[Math.floor(rows.length / 2)] as number;
    await db.query('ALTER TABLE auth.audit_events DROP CONSTRAINT IF EXISTS audit_events_keyed');
    await db.query("UPDATE auth.audit_events SET actor = 'user:mallory' WHERE seq = $1", [target]);
    // Re-link from the edited record to the head with the published unkeyed rule.
    const all = (await db.query('SELECT * FROM auth.audit_events WHERE seq >= $1 ORDER BY seq', [target])).rows as Array<Record<string, unknown>>;
    let prev = (await db.query<{ hash: Buffer }>('SELECT hash FROM auth.audit_events WHERE seq = $1', [target - 1])).rows[0]?.hash ?? Buffer.alloc(32);
    for (const r of all) {
      const e = { id: r.id as string, tenantId: r.tenant_id as string | null, time: r.time as Date, type: r.type as string, actor: r.actor as string, target: r.target as string, result: r.result as string, requestId: r.request_id as string, details: r.details as Record<string, string>, seq: Number(r.seq) };
      const hash = chainHash(prev, e);
      await db.query('UPDATE auth.audit_events SET prev_hash = $1, hash = $2, key_id = NULL WHERE id = $3', [prev, hash, e.id]);
      prev = hash;
    }
    await db.query('UPDATE auth.audit_chain_head SET hash = $1', [prev]);
    const r = await mezctl('audit', 'verify');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe(`mezctl: Failed precondition: audit log broken at record ${target}: record ${target} was modified (its link is not keyed)\n`);
  });
});
