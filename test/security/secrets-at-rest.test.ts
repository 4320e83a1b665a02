import { spawnSync } from 'node:child_process';
import { createDecipheriv, createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { formatPublicKey } from '@mezite/ssh';
import Redis from 'ioredis';
import { Client } from 'pg';
import { joinTokenHash } from '../harness/bot-credentials';
import { runBin } from '../harness/cli';
import { TestStack } from '../harness/test-stack';
import { adminSession, createBot, upsertRole } from './fixtures';
import { RawGrpc, type RawReply } from './raw-grpc';

/**
 * Secrets at rest: a full workflow against a stack on the real PostgreSQL and Redis —
 * bots joined and renewed by mezd, a node joined, service identities created and
 * rotated, API tokens issued (gRPC and /oauth2/token), minted, rotated, verified,
 * introspected and deleted — then every table of the stack's database (pg_dump, and
 * row_to_json over every table of auth, token and sshca) and every Redis key the stack
 * wrote are searched for each secret the test saw: join tokens, API tokens, client
 * secrets, the admin's session secret, bot and node private keys, the CA private keys,
 * the peppers and the key-encryption key — as text, base64, base64url and hex, their
 * random parts alone, their unkeyed SHA-256 — and for any PEM `PRIVATE KEY` block.
 */
describe('no plaintext secret in PostgreSQL or Redis after a full workflow', () => {
  let stack: TestStack;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let redis: Redis;
  let grpc: RawGrpc;
  let admin: string;
  let redisDb: number;
  let keysBefore: Set<string>;
  /** Set when the workflow ran to its end, so the searches never pass on a half-empty list. */
  let workflowDone = false;
  const work = mkdtempSync(join(tmpdir(), 'mezite-at-rest-'));
  /** Every secret the workflow saw, by what it is. */
  const secrets: Array<{ what: string; value: string | Buffer }> = [];
  const keep = (what: string, value: string | Buffer) => {
    if (value.length === 0) throw new Error(`empty secret: ${what}`);
    secrets.push({ what, value });
  };
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const ok = <T>(r: RawReply & { message?: T }, what: string): T => {
    if (r.code !== 0 || !r.message) throw new Error(`${what}: ${r.code} ${r.details}`);
    return r.message;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    // A Redis database of its own (the cache's key prefix, `token:`, is the same for every stack).
    redisDb = 1 + Math.floor(Math.random() * 15);
    const redisUrl = new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
    redisUrl.pathname = `/${redisDb}`;
    redis = new Redis(redisUrl.toString(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    keysBefore = new Set(await scanAll(redis));
    stack = await TestStack.start({ databaseUrl: db.url, redisUrl: redisUrl.toString() });
    admin = adminSession(stack);
    grpc = RawGrpc.forStack(stack.dataDir, stack.ports.auth);
  }, 120_000);
  afterAll(async () => {
    grpc?.close();
    await stack?.destroy();
    if (redis) {
      const ours = (await scanAll(redis)).filter((k) => !keysBefore.has(k));
      if (ours.length > 0) await redis.del(...ours);
      redis.disconnect();
    }
    await db?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  test('the workflow', async () => {
    keep('admin session', admin);
    const s = stack.secrets();
    keep('token pepper', Buffer.from(s.token_pepper, 'base64'));
    keep('session pepper', Buffer.from(s.session_pepper, 'base64'));
    keep('CA key-encryption key', Buffer.from(s.ca_kek, 'base64'));
    for (const f of readdirSync(join(stack.dataDir, 'pki')).filter((x) => x.endsWith('.key'))) keep(`internal TLS key ${f}`, createPrivateKey(readFileSync(join(stack.dataDir, 'pki', f))).export({ format: 'der', type: 'pkcs8' }));

    await upsertRole(grpc, admin);
    // A bot joined and renewed by mezd itself; its private key is read back from the destination.
    const botToken = await createBot(grpc, admin, 'at-rest-bot');
    keep('join token (redeemed)', botToken);
    const mezd = (extra: string[]) =>
      runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--destination=${join(work, 'certs')}`, `--data-dir=${join(work, 'state')}`, '--one-shot', ...extra], { env: { HOME: work }, cwd: work, timeoutMs: 30_000 });
    for (const extra of [[`--join-token=${botToken}`], []]) {
      const r = await mezd(extra);
      expect(r.code).toBe(0);
      keep(`bot private key (${extra.length ? 'join' : 'renewal'})`, readFileSync(join(work, 'certs', 'ssh_key')));
    }
    const rotated = ok(await grpc.unary('/mezite.auth.v1.BotService/RotateBotToken', authv1.RotateBotTokenRequest, { name: 'at-rest-bot' }, authv1.RotateBotTokenResponse, bearer(admin)), 'rotate join token');
    keep('join token (live)', rotated.joinToken);
    keep('join token (revoked)', await createBot(grpc, admin, 'at-rest-bot-2'));
    await grpc.unary('/mezite.auth.v1.BotService/RotateBotToken', authv1.RotateBotTokenRequest, { name: 'at-rest-bot-2' }, authv1.RotateBotTokenResponse, bearer(admin));

    // A node joined with a host key the test made.
    const added = ok(await grpc.unary('/mezite.auth.v1.NodeService/AddNode', authv1.AddNodeRequest, { name: 'at-rest-node', addr: '127.0.0.1:22', labels: { env: 'staging' }, tokenTtlSeconds: 3600 }, authv1.AddNodeResponse, bearer(admin)), 'add node');
    keep('node join token', added.joinToken);
    const hostKey = generateKeyPairSync('ed25519').privateKey;
    keep('node host private key', privateKeyPem(hostKey));
    ok(await grpc.unary('/mezite.auth.v1.JoinService/JoinNode', authv1.JoinNodeRequest, { joinToken: added.joinToken, hostPublicKey: formatPublicKey(hostKey) }, authv1.NodeCertificateResponse), 'join node');

    // Service identities, client secrets (created, rotated), and API tokens along their whole life.
    keep('demo client secret', 'svc-deployer-demo-secret');
    const svc = ok(await grpc.unary('/mezite.auth.v1.ServiceIdentityService/CreateServiceIdentity', authv1.CreateServiceIdentityRequest, { name: 'at-rest-svc' }, authv1.CreateServiceIdentityResponse, bearer(admin)), 'create service identity');
    keep('client secret (rotated out)', svc.clientSecret);
    const secret = ok(await grpc.unary('/mezite.auth.v1.ServiceIdentityService/RotateServiceIdentitySecret', authv1.RotateServiceIdentitySecretRequest, { name: 'at-rest-svc' }, authv1.CreateServiceIdentityResponse, bearer(admin)), 'rotate client secret').clientSecret;
    keep('client secret', secret);
    const clientId = svc.serviceIdentity?.clientId as string;
    const viaGrpc = ok(await grpc.unary('/mezite.auth.v1.IdentityTokenService/IssueServiceToken', authv1.IssueServiceTokenRequest, { clientId, clientSecret: secret, grantType: 'client_credentials' }, authv1.IssuedToken), 'client_credentials (gRPC)');
    keep('API token (client_credentials, gRPC)', viaGrpc.accessToken);
    const res = await fetch(`${stack.httpUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    const viaHttp = ((await res.json()) as { access_token: string }).access_token;
    keep('API token (client_credentials, HTTP)', viaHttp);
    const minted = ok(await grpc.unary('/mezite.auth.v1.IdentityTokenService/IssueToken', authv1.IssueTokenRequest, { identityRef: `service:${svc.serviceIdentity?.id}`, envPrefix: 'dev', ttlSeconds: 3600 }, authv1.IssuedToken, bearer(admin)), 'mint');
    keep('API token (minted)', minted.accessToken);
    const successor = ok(await grpc.unary('/mezite.auth.v1.IdentityTokenService/RotateToken', authv1.RotateTokenRequest, { id: viaGrpc.id }, authv1.RotateTokenResponse, bearer(viaGrpc.accessToken)), 'rotate API token');
    keep('API token (rotation successor)', successor.plaintext);
    // Verifications fill the cache (record and state keys); a deletion writes a state key.
    for (const t of [viaGrpc.accessToken, viaHttp, minted.accessToken, successor.plaintext]) expect((await grpc.call('/mezite.auth.v1.IdentityService/WhoAmI', Buffer.alloc(0), bearer(t))).code).toBe(0);
    const intro = await fetch(`${stack.httpUrl}/oauth2/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${admin}` }, body: `token=${viaHttp}` });
    expect(((await intro.json()) as { active: boolean }).active).toBe(true);
    ok(await grpc.unary('/mezite.auth.v1.IdentityTokenService/DeleteToken', authv1.DeleteTokenRequest, { id: minted.id }, authv1.DeleteTokenResponse, bearer(minted.accessToken)), 'delete API token');
    const revoke = await fetch(`${stack.httpUrl}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` }, body: `token=${viaHttp}` });
    expect(revoke.status).toBe(200);

    // The CA private keys, opened with the KEK as ssh-ca does (AES-256-GCM, CA id as AAD).
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const cas = await pg.query<{ id: string; encrypted_private_key: Buffer }>('SELECT id, encrypted_private_key FROM sshca.cert_authorities');
      expect(cas.rows.length).toBeGreaterThanOrEqual(2);
      for (const ca of cas.rows) {
        const d = createDecipheriv('aes-256-gcm', Buffer.from(s.ca_kek, 'base64'), ca.encrypted_private_key.subarray(1, 13));
        d.setAAD(Buffer.from(ca.id));
        d.setAuthTag(ca.encrypted_private_key.subarray(13, 29));
        keep(`CA private key ${ca.id}`, privateKeyPem(createPrivateKey({ key: Buffer.concat([d.update(ca.encrypted_private_key.subarray(29)), d.final()]), format: 'der', type: 'pkcs8' })));
      }
    } finally {
      await pg.end();
    }
    workflowDone = true;
  }, 90_000);

  test('the search itself finds every secret in each of its forms (positive control)', () => {
    expect(workflowDone).toBe(true);
    expect(secrets.length).toBeGreaterThanOrEqual(20);
    for (const x of secrets) {
      const forms = needles(x.value);
      expect(forms.length).toBeGreaterThanOrEqual(4);
      for (const n of forms) expect(findSecrets(`…${n}…`, [x])).not.toEqual([]);
    }
    expect(findSecrets(privateKeyPem(generateKeyPairSync('ed25519').privateKey), [])).toEqual(['a PEM "PRIVATE KEY" header']);
  });

  test('PostgreSQL: no table of auth, token or sshca holds a secret in any encoding, or a PEM private key', async () => {
    expect(workflowDone).toBe(true);
    const dumps: Record<string, string> = { 'row_to_json': await jsonDump(db.url) };
    const pgDump = spawnSync('pg_dump', ['--data-only', '--schema=auth', '--schema=token', '--schema=sshca', db.url], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    if (pgDump.error) console.warn(`pg_dump not run (${pgDump.error.message}); the row_to_json dump stands alone`);
    else if (pgDump.status !== 0) console.warn(`pg_dump failed (${pgDump.stderr.trim()}); the row_to_json dump stands alone`);
    else dumps.pg_dump = pgDump.stdout;
    // The dumps are of the right database: they hold the keyed hash of a token the test saw
    // (auth.join_tokens, under the key the auth-server derives from its session pepper).
    const joinHash = joinTokenHash(stack.secrets().session_pepper, secrets.find((x) => x.what === 'join token (live)')?.value as string).toString('hex');
    for (const [name, dump] of Object.entries(dumps)) {
      console.log(`${name}: ${dump.length} characters searched for ${secrets.length} secrets`);
      expect({ name, hasJoinHash: dump.includes(joinHash) }).toEqual({ name, hasJoinHash: true });
      expect({ name, found: findSecrets(dump, secrets) }).toEqual({ name, found: [] });
    }
  });

  test('Redis: no key or value the stack wrote holds a secret in any encoding, or a PEM private key', async () => {
    expect(workflowDone).toBe(true);
    const keys = (await scanAll(redis)).filter((k) => !keysBefore.has(k));
    expect(keys.length).toBeGreaterThan(0);
    // token-service's cache, and the auth-server's failure counts (client ids and addresses, under MEZITE_REDIS_KEY_PREFIX).
    expect(keys.filter((k) => !k.startsWith('token:') && !k.startsWith('auth:'))).toEqual([]);
    const parts: string[] = [];
    for (const k of keys) {
      const type = await redis.type(k);
      parts.push(`${k} (${type}):`);
      if (type === 'string') parts.push((await redis.getBuffer(k))?.toString('latin1') ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(k)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(k)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(k, 0, -1)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(k, 0, -1, 'WITHSCORES')));
      else if (type !== 'none') parts.push(`unexpected type ${type}`);
    }
    const dump = parts.join('\n');
    console.log(`Redis: ${keys.length} keys (${dump.length} characters) searched for ${secrets.length} secrets`);
    expect(dump).not.toMatch(/unexpected type/);
    expect(findSecrets(dump, secrets)).toEqual([]);
  });
});

/** Every key of the current Redis database. */
async function scanAll(r: Redis): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'COUNT', 1000);
    out.push(...batch);
    cursor = next;
  } while (cursor !== '0' && out.length < 100_000);
  return out;
}

/** Every row of every table in the auth, token and sshca schemas, as JSON lines (bytea as \x hex). */
async function jsonDump(url: string): Promise<string> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const tables = await c.query<{ s: string; t: string }>("SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_schema IN ('auth', 'token', 'sshca') AND table_type = 'BASE TABLE' ORDER BY 1, 2");
    expect(tables.rows.map((r) => `${r.s}.${r.t}`)).toEqual(expect.arrayContaining(['auth.sessions', 'auth.join_tokens', 'auth.bot_instances', 'auth.bot_instance_generations', 'token.api_tokens', 'token.client_secrets', 'sshca.cert_authorities']));
    const lines: string[] = [];
    for (const { s, t } of tables.rows) {
      const rows = await c.query<{ j: unknown }>(`SELECT row_to_json(x) AS j FROM "${s}"."${t}" x`);
      for (const r of rows.rows) lines.push(`${s}.${t} ${JSON.stringify(r.j)}`);
    }
    return lines.join('\n');
  } finally {
    await c.end();
  }
}

/** A private key as PKCS#8 PEM (what every needle for a key is derived from). */
function privateKeyPem(k: KeyObject): string {
  return k.export({ format: 'pem', type: 'pkcs8' }) as string;
}

/**
 * The forms a secret could be stored in: as is, base64 (padded and not), base64url and
 * hex of its bytes; for a token its random part alone; its unkeyed SHA-256 (the stores
 * promise HMAC under a pepper); for a private key its DER (PKCS#8, and SEC1 for EC),
 * the first line of its PEM body, and the raw private scalar.
 */
function needles(value: string | Buffer): string[] {
  const forms = (b: Buffer): string[] => {
    const b64 = b.toString('base64');
    return [b64, b64.replace(/=+$/, ''), b.toString('base64url'), b.toString('hex'), b.toString('hex').toUpperCase()].filter((x) => x.length >= 16);
  };
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : value;
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    const key = createPrivateKey(text);
    const der = [key.export({ format: 'der', type: 'pkcs8' })];
    if (key.asymmetricKeyType === 'ec') der.push(key.export({ format: 'der', type: 'sec1' }));
    const d = Buffer.from((key.export({ format: 'jwk' }) as { d?: string }).d ?? '', 'base64url');
    const pemLine = (key.export({ format: 'pem', type: 'pkcs8' }) as string).split('\n')[1] ?? '';
    return [...der.flatMap(forms), ...forms(d), pemLine].filter((x) => x.length >= 16);
  }
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
  const out = [...forms(bytes), ...forms(createHash('sha256').update(bytes).digest())];
  if (!Buffer.isBuffer(value)) {
    out.push(value);
    // The random part alone: tok-bot-<hex>, psk_<env>_<base62>, mzs_<hex>, or the whole secret.
    const random = /^(?:tok-(?:bot|node)-|psk_(?:live|dev)_|mzs_)(.+)$/.exec(value)?.[1];
    if (random && random.length >= 16) out.push(random, ...forms(Buffer.from(random, 'hex').length * 2 === random.length ? Buffer.from(random, 'hex') : Buffer.from(random)));
  }
  return [...new Set(out)];
}

/** The secrets (by name) any of whose forms occur in `dump`, and PEM private key blocks. */
function findSecrets(dump: string, secrets: ReadonlyArray<{ what: string; value: string | Buffer }>): string[] {
  const found: string[] = [];
  if (/PRIVATE KEY/.test(dump)) found.push('a PEM "PRIVATE KEY" header');
  for (const s of secrets) for (const n of needles(s.value)) if (dump.includes(n)) found.push(`${s.what} (as ${n.slice(0, 12)}…)`);
  return found;
}
