import { createDecipheriv, createPrivateKey, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { authv1 } from '@mezite/proto';
import { encodePublicKey, formatPublicKey, generateCaKey, isCertificateRevoked, makeCertAuthCredential, parseKrl, parseCertificate, signCertificate, type SshCertificate } from '@mezite/ssh';
import { Client } from 'pg';
import { joinTokenHash } from '../harness/bot-credentials';
import { TestStack } from '../harness/test-stack';
import { adminSession, auditEvents, createBot, renewBot, upsertRole } from './fixtures';
import { Code, RawGrpc, type RawReply } from './raw-grpc';
import { join as joinPath } from 'node:path';
import { REPO_ROOT } from '../harness/cli';

/** What the oracle test uses of the auth-server's test OIDC issuer (built with the auth server; jose is its dependency, not test/'s). */
interface Issuer {
  url: string;
  githubClaims(over?: Record<string, unknown>): Record<string, unknown>;
  mint(claims: Record<string, unknown>, o?: { header?: Record<string, unknown> }): Promise<string>;
  stop(): Promise<void>;
}
const { TestOidcIssuer } = require(joinPath(REPO_ROOT, 'services/auth-server/dist/domain/join-methods/test-issuer.js')) as { TestOidcIssuer: { start(): Promise<Issuer> } };

/**
 * Error oracles: a caller must not learn from the answer whether a credential it does
 * not hold is unknown, expired, used, revoked or mistyped. For each kind of credential
 * the public port takes, every such case gets the same code and message; the reason is
 * recorded only in the audit log, found by the request id the answer carried.
 *
 * "Expired" join tokens are made by moving expires_at into the past in PostgreSQL
 * (`auth.join_tokens`, found by the keyed hash the auth-server derives from its session
 * pepper; the shortest join-token TTL is a minute); an expired certificate is signed by
 * the stack's own User CA, whose key the test opens with the KEK from secrets.json.
 */
describe('identical refusals for unknown, expired, used, revoked and mistyped credentials', () => {
  let stack: TestStack;
  let grpc: RawGrpc;
  let admin: string;
  let db: Client;
  let sessionPepper: string;
  /** The API token refusals of the test that makes them, for the audit test after it: what was presented, and the answer. */
  const apiTokenRefusals: Record<string, { presented: string; reply: RawReply }> = {};
  const bearer = () => ({ authorization: `Bearer ${admin}` });
  const keyLine = (k: KeyObject) => formatPublicKey(k);
  const newKey = () => generateKeyPairSync('ed25519').privateKey;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** A join with a fresh key: the token is the only credential. */
  const join = (joinToken: string, key: KeyObject = newKey()) => grpc.unary('/mezite.auth.v1.JoinService/Join', authv1.JoinRequest, { joinToken, publicKey: keyLine(key) }, authv1.JoinResponse);
  const whoami = (authorization: string) => grpc.unary('/mezite.auth.v1.IdentityService/WhoAmI', authv1.WhoAmIRequest, {}, authv1.WhoAmIResponse, { authorization });
  const issueService = (clientId: string, clientSecret: string) => grpc.unary('/mezite.auth.v1.IdentityTokenService/IssueServiceToken', authv1.IssueServiceTokenRequest, { clientId, clientSecret, grantType: 'client_credentials' }, authv1.IssuedToken);
  const ok = <T>(r: RawReply & { message?: T }, what: string): T => {
    if (r.code !== 0 || !r.message) throw new Error(`${what}: ${r.code} ${r.details}`);
    return r.message;
  };

  /** Asserts every reply has the same code and message, and returns that pair. */
  const identical = (replies: Record<string, RawReply>) => {
    const shapes = Object.fromEntries(Object.entries(replies).map(([k, r]) => [k, { code: r.code, details: r.details }]));
    const first = Object.values(shapes)[0];
    expect(shapes).toEqual(Object.fromEntries(Object.keys(shapes).map((k) => [k, first])));
    return first as { code: number; details: string };
  };

  beforeAll(async () => {
    stack = await TestStack.start({ env: { MEZITE_AUTH_FAILURE_LIMIT: '1000000', MEZITE_ROTATION_OVERLAP: '1s' } });
    admin = adminSession(stack);
    grpc = RawGrpc.forStack(stack.dataDir, stack.ports.auth);
    await upsertRole(grpc, admin);
    db = new Client({ connectionString: stack.status().databaseUrl });
    await db.connect();
    sessionPepper = stack.secrets().session_pepper;
  }, 120_000);
  afterAll(async () => {
    grpc?.close();
    await db?.end();
    await stack?.destroy();
  });

  test('join tokens: unknown, malformed, mistyped, expired, used and revoked get one answer; the audit log has the reason', async () => {
    const used = await createBot(grpc, admin, 'oracle-used');
    ok(await join(used), 'first join');
    const rotated = await createBot(grpc, admin, 'oracle-rotated');
    ok(await grpc.unary('/mezite.auth.v1.BotService/RotateBotToken', authv1.RotateBotTokenRequest, { name: 'oracle-rotated' }, authv1.RotateBotTokenResponse, bearer()), 'rotate');
    const removed = await createBot(grpc, admin, 'oracle-removed');
    ok(await grpc.unary('/mezite.auth.v1.BotService/DeleteBot', authv1.DeleteBotRequest, { name: 'oracle-removed' }, authv1.DeleteBotResponse, bearer()), 'delete');
    const expired = await createBot(grpc, admin, 'oracle-expired');
    const moved = await db.query("UPDATE auth.join_tokens SET expires_at = now() - interval '1 minute' WHERE token_hash = $1", [joinTokenHash(sessionPepper, expired)]);
    expect(moved.rowCount).toBe(1);
    const live = await createBot(grpc, admin, 'oracle-live');
    const lastHex = live.at(-1) as string;

    const replies: Record<string, RawReply> = {
      unknown: await join(`tok-bot-${randomBytes(16).toString('hex')}`),
      mistyped: await join(live.slice(0, -1) + (lastHex === '0' ? '1' : '0')),
      malformed: await join(live.toUpperCase()),
      truncated: await join(live.slice(0, -1)),
      'node token shape': await join(live.replace('tok-bot-', 'tok-node-')),
      expired: await join(expired),
      used: await join(used),
      'revoked (rotated)': await join(rotated),
      'revoked (bot removed)': await join(removed),
    };
    expect(identical(replies)).toEqual({ code: Code.UNAUTHENTICATED, details: 'invalid join token' });

    // The auth-server keeps the tokens, so the audit log tells each case apart (a
    // mistyped token or one of the wrong kind is simply unknown; a removed bot's tokens
    // were revoked with it).
    const reasons: Record<string, string> = {
      unknown: 'unknown token',
      mistyped: 'unknown token',
      malformed: 'malformed token',
      truncated: 'malformed token',
      'node token shape': 'unknown token',
      expired: 'expired token',
      used: 'used token',
      'revoked (rotated)': 'revoked token',
      'revoked (bot removed)': 'revoked token',
    };
    const byRequest = new Map((await auditEvents(grpc, admin, 'bot.join')).map((e) => [e.requestId, e]));
    for (const [what, r] of Object.entries(replies)) {
      const e = byRequest.get(r.requestId ?? '');
      expect({ what, type: e?.type, result: e?.result, reason: e?.details.reason }).toEqual({ what, type: 'bot.join', result: 'failure', reason: reasons[what] });
    }
    // None of the refusals consumed anything: the live token still joins.
    expect((await join(live)).code).toBe(0);
  });

  test('delegated joins: unknown resource or tenant, wrong repository, audience or issuer, expired, replayed, alg none and malformed ID tokens get the one-time token\'s answer', async () => {
    const issuer = await TestOidcIssuer.start();
    try {
      await createBot(grpc, admin, 'gha-oracle');
      const yaml = `kind: join_token\nmetadata:\n  name: gha-oracle\nspec:\n  bot: gha-oracle\n  join_method: github\n  allow:\n    - repository: octo-org/octo-repo\n  github:\n    issuer: ${issuer.url}\n`;
      ok(await grpc.unary('/mezite.auth.v1.JoinTokenService/UpsertJoinToken', authv1.UpsertJoinTokenRequest, { yaml, fileName: 'token.yaml', force: false }, authv1.JoinTokenResource, bearer()), 'upsert join token');
      const claims = (over: Record<string, unknown> = {}) => issuer.githubClaims({ aud: 'mezite:default/gha-oracle', ...over });
      const delegated = (name: string, idToken: string) => grpc.unary('/mezite.auth.v1.JoinService/Join', authv1.JoinRequest, { joinToken: name, idToken, publicKey: keyLine(newKey()) }, authv1.JoinResponse);
      const used = await issuer.mint(claims());
      ok(await delegated('gha-oracle', used), 'first delegated join');
      const now = Math.floor(Date.now() / 1000);
      const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const replies = {
        'one-time token (reference)': await join(`tok-bot-${randomBytes(16).toString('hex')}`),
        'unknown resource': await delegated('nope', await issuer.mint(claims())),
        'unknown tenant': await delegated('no-such-tenant/gha-oracle', await issuer.mint(claims())),
        'wrong repository': await delegated('gha-oracle', await issuer.mint(claims({ repository: 'evil/octo-repo' }))),
        'wrong audience': await delegated('gha-oracle', await issuer.mint(claims({ aud: 'https://github.com/octo-org' }))),
        'wrong issuer': await delegated('gha-oracle', await issuer.mint(claims({ iss: 'https://token.actions.githubusercontent.com' }))),
        expired: await delegated('gha-oracle', await issuer.mint(claims({ iat: now - 900, nbf: now - 900, exp: now - 600 }))),
        replayed: await delegated('gha-oracle', used),
        'alg none': await delegated('gha-oracle', `${b64({ alg: 'none' })}.${b64(claims())}.`),
        malformed: await delegated('gha-oracle', 'not.a.jwt'),
      };
      expect(identical(replies)).toEqual({ code: Code.UNAUTHENTICATED, details: 'invalid join token' });
    } finally {
      await issuer.stop();
    }
  });

  test('API tokens: unknown, mistyped, expired, rotated out and revoked get one answer', async () => {
    const svc = ok(await grpc.unary('/mezite.auth.v1.ServiceIdentityService/CreateServiceIdentity', authv1.CreateServiceIdentityRequest, { name: 'oracle-api' }, authv1.CreateServiceIdentityResponse, bearer()), 'create service identity');
    const machine = async () => ok(await issueService(svc.serviceIdentity?.clientId as string, svc.clientSecret), 'client_credentials');
    const short = ok(await grpc.unary('/mezite.auth.v1.IdentityTokenService/IssueToken', authv1.IssueTokenRequest, { identityRef: `service:${svc.serviceIdentity?.id}`, envPrefix: 'live', ttlSeconds: 1 }, authv1.IssuedToken, bearer()), 'mint 1 s');
    const toRotate = await machine();
    ok(await grpc.unary('/mezite.auth.v1.IdentityTokenService/RotateToken', authv1.RotateTokenRequest, { id: toRotate.id }, authv1.RotateTokenResponse, { authorization: `Bearer ${toRotate.accessToken}` }), 'rotate');
    const toDelete = await machine();
    ok(await grpc.unary('/mezite.auth.v1.IdentityTokenService/DeleteToken', authv1.DeleteTokenRequest, { id: toDelete.id }, authv1.DeleteTokenResponse, { authorization: `Bearer ${toDelete.accessToken}` }), 'delete');
    const live = (await machine()).accessToken;
    await sleep(1500); // past the 1 s TTL and the 1 s rotation overlap
    const i = 12;
    const typo = live.slice(0, i) + (live[i] === 'a' ? 'b' : 'a') + live.slice(i + 1);

    const presented: Record<string, string> = {
      'unknown (valid checksum)': wellFormedApiToken(),
      'mistyped (checksum fails)': typo,
      expired: short.accessToken,
      'rotated out': toRotate.accessToken,
      'revoked (deleted)': toDelete.accessToken,
    };
    const replies: Record<string, RawReply> = {};
    for (const [what, token] of Object.entries(presented)) {
      replies[what] = await whoami(`Bearer ${token}`);
      apiTokenRefusals[what] = { presented: token, reply: replies[what] as RawReply };
    }
    expect(identical(replies)).toEqual({ code: Code.UNAUTHENTICATED, details: 'invalid api token' });
    expect((await whoami(`Bearer ${live}`)).code).toBe(0);
  });

  // Was a gap: a refused bearer credential was counted by the failure limiter but
  // recorded nowhere. Now token-service says why (to the auth-server only) and the
  // refusal is audited, bounded per source (RefusalAuditor).
  test('API tokens: each refusal is in the audit log with its reason, never the token', async () => {
    expect(Object.keys(apiTokenRefusals)).toHaveLength(5); // made by the test before
    const session = `mzs_${randomBytes(16).toString('hex')}`;
    const sessionReply = await whoami(`Bearer ${session}`);
    expect({ code: sessionReply.code, details: sessionReply.details }).toEqual({ code: Code.UNAUTHENTICATED, details: 'invalid or expired credential' });
    const events = await auditEvents(grpc, admin, 'auth.authenticate');
    const byRequest = new Map(events.map((e) => [e.requestId, e]));
    const reasons: Record<string, string> = { 'unknown (valid checksum)': 'unknown', 'mistyped (checksum fails)': 'malformed', expired: 'expired', 'rotated out': 'rotated out', 'revoked (deleted)': 'revoked' };
    for (const [what, { reply }] of Object.entries(apiTokenRefusals)) {
      const e = byRequest.get(reply.requestId ?? '');
      expect({ what, result: e?.result, reason: e?.details.reason, credential: e?.details.credential }).toEqual({ what, result: 'failure', reason: reasons[what], credential: 'api token' });
    }
    // A token that was found is named by id (and the record is its tenant's).
    expect(byRequest.get(apiTokenRefusals.expired?.reply.requestId ?? '')?.target).toMatch(/^token:[0-9a-f-]{36}$/);
    const s = byRequest.get(sessionReply.requestId ?? '');
    expect({ result: s?.result, reason: s?.details.reason, credential: s?.details.credential }).toEqual({ result: 'failure', reason: 'unknown, expired or revoked session', credential: 'session' });
    const text = JSON.stringify(events);
    for (const secret of [...Object.values(apiTokenRefusals).map((r) => r.presented), session]) expect(text).not.toContain(secret.slice(-20));
  });

  test('client secrets: unknown client, wrong, mistyped, rotated and deleted secrets get one answer at /oauth2/token and at IssueServiceToken', async () => {
    const create = async (name: string) => ok(await grpc.unary('/mezite.auth.v1.ServiceIdentityService/CreateServiceIdentity', authv1.CreateServiceIdentityRequest, { name }, authv1.CreateServiceIdentityResponse, bearer()), `create ${name}`);
    const svc = await create('oracle-svc');
    const id = svc.serviceIdentity?.clientId as string;
    const oldSecret = svc.clientSecret;
    const secret = ok(await grpc.unary('/mezite.auth.v1.ServiceIdentityService/RotateServiceIdentitySecret', authv1.RotateServiceIdentitySecretRequest, { name: 'oracle-svc' }, authv1.CreateServiceIdentityResponse, bearer()), 'rotate secret').clientSecret;
    const gone = await create('oracle-gone');
    ok(await grpc.unary('/mezite.auth.v1.ServiceIdentityService/DeleteServiceIdentity', authv1.DeleteServiceIdentityRequest, { name: 'oracle-gone' }, authv1.DeleteServiceIdentityResponse, bearer()), 'delete');
    const typo = secret.slice(0, 5) + (secret[5] === 'A' ? 'B' : 'A') + secret.slice(6);
    const cases: Record<string, [string, string]> = {
      'unknown client': [`no-such-${randomBytes(4).toString('hex')}`, secret],
      'wrong secret': [id, randomBytes(32).toString('base64url')],
      'mistyped secret': [id, typo],
      'rotated (old) secret': [id, oldSecret],
      'deleted identity': [gone.serviceIdentity?.clientId as string, gone.clientSecret],
      'empty secret': [id, ''],
    };

    const grpcReplies: Record<string, RawReply> = {};
    for (const [what, [cid, s]] of Object.entries(cases)) grpcReplies[what] = await issueService(cid, s);
    expect(identical(grpcReplies)).toEqual({ code: Code.UNAUTHENTICATED, details: 'invalid client credentials' });

    const http = async (cid: string, s: string, how: 'basic' | 'post') => {
      const form = new URLSearchParams({ grant_type: 'client_credentials', ...(how === 'post' ? { client_id: cid, client_secret: s } : {}) });
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (how === 'basic') headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(cid)}:${encodeURIComponent(s)}`).toString('base64')}`;
      const res = await fetch(`${stack.httpUrl}/oauth2/token`, { method: 'POST', headers, body: form.toString(), signal: AbortSignal.timeout(10_000) });
      // The request id differs by design (it is how an admin finds the reason): kept aside.
      httpRequestIds.push(res.headers.get('x-request-id') ?? '');
      return { status: res.status, body: await res.text(), challenge: res.headers.get('www-authenticate'), cache: res.headers.get('cache-control') };
    };
    const httpRequestIds: string[] = [];
    const httpWhat = new Map<string, string>();
    for (const how of ['basic', 'post'] as const) {
      const answers: Record<string, unknown> = {};
      for (const [what, [cid, s]] of Object.entries(cases)) {
        // client_secret_post with an empty secret is "no client authentication" (also 401 invalid_client, another message): not this oracle.
        if (how === 'post' && s === '') continue;
        answers[what] = await http(cid, s, how);
        httpWhat.set(httpRequestIds[httpRequestIds.length - 1]!, what);
      }
      const first = Object.values(answers)[0] as { status: number; body: string };
      expect(first.status).toBe(401);
      expect(JSON.parse(first.body)).toEqual({ error: 'invalid_client', error_description: 'invalid client credentials' });
      expect(answers).toEqual(Object.fromEntries(Object.keys(answers).map((k) => [k, first])));
    }

    // The reason is in the audit log only: unknown client (no such id, deleted) or bad
    // secret. (An empty or oversized secret is refused before any lookup, unaudited.)
    const byRequest = new Map((await auditEvents(grpc, admin, 'token.issue_service')).map((e) => [e.requestId, e]));
    for (const [what, r] of Object.entries(grpcReplies)) {
      if (what === 'empty secret') continue;
      const e = byRequest.get(r.requestId ?? '');
      const reason = what === 'unknown client' || what === 'deleted identity' ? 'unknown client' : 'bad secret';
      expect({ what, result: e?.result, reason: e?.details.reason }).toEqual({ what, result: 'failure', reason });
    }
    // …and for /oauth2/token, under the x-request-id its answer carried.
    expect(httpWhat.size).toBe(httpRequestIds.length);
    for (const [requestId, what] of httpWhat) {
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      if (what === 'empty secret') continue;
      const e = byRequest.get(requestId);
      const reason = what === 'unknown client' || what === 'deleted identity' ? 'unknown client' : 'bad secret';
      expect({ what, via: 'http', result: e?.result, reason: e?.details.reason }).toEqual({ what, via: 'http', result: 'failure', reason });
    }
    expect((await issueService(id, secret)).code).toBe(0);
  });

  describe('bot certificates', () => {
    const REFUSED = { code: Code.UNAUTHENTICATED, details: 'the certificate was not issued by this cluster or has expired' };
    const BAD_PROOF = { code: Code.UNAUTHENTICATED, details: 'the renewal signature does not match the certificate key' };
    let userCa: KeyObject;

    /** A bot with a certificate on `key`; the certificate line and its parsed form. */
    const botWithCert = async (name: string, key: KeyObject = newKey()) => {
      const r = ok(await join(await createBot(grpc, admin, name), key), `join ${name}`);
      return { key, line: r.certificate, cert: parseCertificate(r.certificate) };
    };
    /** The same certificate (same key, serial, claims) signed by `ca` with another validity. */
    const resign = (c: SshCertificate, ca: KeyObject, validAfter: Date, validBefore: Date) =>
      signCertificate({ ca: { key: ca }, subjectKey: c.subjectKey.blob, type: 'user', serial: c.serial, keyId: c.keyId, principals: c.principals, validAfter, validBefore, extensions: c.extensions }).line;
    /** RenewBot for `line` with a valid proof of possession by `key` (for a fresh key unless `next` is given). */
    const renew = (line: string, key: KeyObject, next: KeyObject = newKey()) => renewBot(grpc, line, key, next);
    const credential = (line: string, key: KeyObject) => `SshCert ${makeCertAuthCredential(Buffer.from(line.split(' ')[1] as string, 'base64'), key, new Date())}`;

    beforeAll(async () => {
      // The active User CA's key, opened as ssh-ca does: AES-256-GCM, version|iv|tag|ciphertext, the CA id as AAD.
      const row = (await db.query<{ id: string; encrypted_private_key: Buffer }>("SELECT id, encrypted_private_key FROM sshca.cert_authorities WHERE type = 'user' AND state = 'active'")).rows[0];
      if (!row) throw new Error('no active User CA');
      const d = createDecipheriv('aes-256-gcm', Buffer.from(stack.secrets().ca_kek, 'base64'), row.encrypted_private_key.subarray(1, 13));
      d.setAAD(Buffer.from(row.id));
      d.setAuthTag(row.encrypted_private_key.subarray(13, 29));
      userCa = createPrivateKey({ key: Buffer.concat([d.update(row.encrypted_private_key.subarray(29)), d.final()]), format: 'der', type: 'pkcs8' });
    });

    test('RenewBot: a certificate from another CA, an expired one and one with a changed signature get one answer', async () => {
      const { key, line, cert } = await botWithCert('oracle-cert');
      const now = Date.now();
      const sigAt = cert.blob.length - 5;
      const flipped = Buffer.from(cert.blob);
      flipped[sigAt] = (flipped[sigAt] as number) ^ 0x01;
      // Each with a valid proof by the certificate's key: only the certificate is wrong.
      const replies: Record<string, RawReply> = {
        'another CA': await renew(resign(cert, generateCaKey('ed25519').privateKey, new Date(now - 60_000), new Date(now + 3600_000)), key),
        expired: await renew(resign(cert, userCa, new Date(now - 7200_000), new Date(now - 3600_000)), key),
        'not yet valid': await renew(resign(cert, userCa, new Date(now + 3600_000), new Date(now + 7200_000)), key),
        'changed signature': await renew(`${cert.keyType} ${flipped.toString('base64')}`, key),
      };
      expect(identical(replies)).toEqual(REFUSED);
      // Control: the same certificate, re-signed by the real CA with a live validity, renews;
      // the original presenting the same new key again is that renewal's retry (same certificate).
      const next = newKey();
      const renewed = ok(await renew(resign(cert, userCa, new Date(now - 60_000), new Date(now + 3600_000)), key, next), 'renew the re-signed certificate');
      expect(ok(await renew(line, key, next), 'retry with the original').certificate).toBe(renewed.certificate);
    });

    test('RenewBot: a proof by another key, or over another instance, generation, serial, new key or time, gets one answer and consumes nothing', async () => {
      const { key, line, cert } = await botWithCert('oracle-proof');
      const next = newKey();
      const t = Date.now();
      const replies: Record<string, RawReply> = {
        'signed by another key': await renewBot(grpc, line, key, next, { signWith: newKey() }),
        'another instance': await renewBot(grpc, line, key, next, { proof: { instanceId: randomUUID() } }),
        'another generation': await renewBot(grpc, line, key, next, { proof: { generation: 2 } }),
        'another serial': await renewBot(grpc, line, key, next, { proof: { serial: cert.serial + 1n } }),
        'another new key': await renewBot(grpc, line, key, next, { proof: { newPublicKeyBlob: encodePublicKey(newKey()) } }),
        'another time': await renewBot(grpc, line, key, next, { timeMs: t, request: { time: new Date(t + 1000) } }),
        'no signature': await renewBot(grpc, line, key, next, { request: { signature: Buffer.alloc(0) } }),
        'garbage signature': await renewBot(grpc, line, key, next, { request: { signature: randomBytes(80) } }),
      };
      expect(identical(replies)).toEqual(BAD_PROOF);
      const byRequest = new Map((await auditEvents(grpc, admin, 'bot.renew')).map((e) => [e.requestId, e]));
      for (const [what, r] of Object.entries(replies)) {
        const e = byRequest.get(r.requestId ?? '');
        expect({ what, result: e?.result, reason: e?.details.reason, target: e?.target }).toEqual({ what, result: 'failure', reason: 'bad proof of possession', target: 'bot:oracle-proof' });
      }
      // A valid proof signed too long ago is refused as such: only the key's holder gets this far.
      const stale = await renewBot(grpc, line, key, next, { timeMs: t - 10 * 60_000 });
      expect(stale).toMatchObject({ code: Code.UNAUTHENTICATED, details: expect.stringMatching(/more than 2 minutes from the server's clock/) });
      // None of them moved the instance on or locked it: the real proof, with the same new key, renews.
      expect(ok(await renew(line, key, next), 'renew').generation).toBe(2);
    });

    test('SshCert credentials: another CA, expired, changed signature, removed, locked and copied bots get one answer', async () => {
      const { key, cert } = await botWithCert('oracle-msh');
      const removed = await botWithCert('oracle-msh-removed');
      ok(await grpc.unary('/mezite.auth.v1.BotService/DeleteBot', authv1.DeleteBotRequest, { name: 'oracle-msh-removed' }, authv1.DeleteBotResponse, bearer()), 'delete');
      const locked = await botWithCert('oracle-msh-locked');
      ok(await grpc.unary('/mezite.auth.v1.BotService/LockBot', authv1.LockBotRequest, { name: 'oracle-msh-locked', reason: 'test' }, authv1.Bot, bearer()), 'lock');
      // A copied credential: one generation renewed twice with different keys locks the instance.
      const copied = await botWithCert('oracle-msh-copied');
      const successorKey = newKey();
      const successor = ok(await renew(copied.line, copied.key, successorKey), 'first renewal');
      expect((await renew(copied.line, copied.key)).code).toBe(Code.PERMISSION_DENIED);
      const now = Date.now();
      const flipped = Buffer.from(cert.blob);
      flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0x01;
      const replies: Record<string, RawReply> = {
        'another CA': await whoami(credential(resign(cert, generateCaKey('ed25519').privateKey, new Date(now - 60_000), new Date(now + 3600_000)), key)),
        expired: await whoami(credential(resign(cert, userCa, new Date(now - 7200_000), new Date(now - 3600_000)), key)),
        'changed signature': await whoami(credential(`${cert.keyType} ${flipped.toString('base64')}`, key)),
        'signed by another key': await whoami(credential(`${cert.keyType} ${cert.blob.toString('base64')}`, newKey())),
        'removed bot': await whoami(credential(removed.line, removed.key)),
        'locked bot': await whoami(credential(locked.line, locked.key)),
        'copied (instance locked)': await whoami(credential(copied.line, copied.key)),
        'copied (the successor)': await whoami(credential(successor.certificate, successorKey)),
      };
      expect(identical(replies)).toEqual({ code: Code.UNAUTHENTICATED, details: 'invalid certificate credential' });
      // Control: the real certificate and key authenticate (bots act as kind "service").
      expect((await whoami(credential(`${cert.keyType} ${cert.blob.toString('base64')}`, key))).message?.principal).toBe('service');
      // A second join (a new token) makes another instance; the first one keeps working.
      const again = ok(await grpc.unary('/mezite.auth.v1.BotService/RotateBotToken', authv1.RotateBotTokenRequest, { name: 'oracle-msh' }, authv1.RotateBotTokenResponse, bearer()), 'rotate').joinToken;
      ok(await join(again), 'second join');
      expect((await whoami(credential(`${cert.keyType} ${cert.blob.toString('base64')}`, key))).message?.principal).toBe('service');
    });

    test('RevokeCertificate puts the certificate in the KRL nodes load (precondition of the next test)', async () => {
      const { cert } = await botWithCert('oracle-krl');
      ok(await grpc.unary('/mezite.auth.v1.CertAuthorityService/RevokeCertificate', authv1.RevokeCertificateRequest, { serial: cert.serial.toString(), reason: 'stolen' }, authv1.RevokeCertificateResponse, bearer()), 'revoke');
      const list = ok(await grpc.unary('/mezite.auth.v1.CertAuthorityService/GetRevocationList', authv1.GetRevocationListRequest, {}, authv1.RevocationList, bearer()), 'krl');
      expect(isCertificateRevoked(parseKrl(Buffer.from(list.krl)), { caPublicKeyBlob: cert.signatureKey.blob, serial: cert.serial, keyId: cert.keyId })).toBe(true);
    });

    // Was a bug: a certificate revoked by serial was in the KRL (sshd refused it) but the
    // auth-server still renewed it and accepted it as an `SshCert` credential. Both now
    // consult the revocations (RevocationList.isCertificateRevoked).
    test('a certificate revoked by serial can neither be renewed nor used as a credential', async () => {
      const { key, line, cert } = await botWithCert('oracle-revoked-serial');
      ok(await grpc.unary('/mezite.auth.v1.CertAuthorityService/RevokeCertificate', authv1.RevokeCertificateRequest, { serial: cert.serial.toString(), reason: 'stolen' }, authv1.RevokeCertificateResponse, bearer()), 'revoke');
      const asCredential = await whoami(credential(line, key));
      const renewed = await renew(line, key);
      expect({ credential: asCredential.code, renewal: renewed.code }).toEqual({ credential: Code.UNAUTHENTICATED, renewal: Code.UNAUTHENTICATED });
    });

    // Was a gap: a certificate refused at renewal (another CA, expired, bad signature,
    // revoked) left no audit record. Now each is a `bot.renew` failure with its reason,
    // bounded per source (RefusalAuditor).
    test('RenewBot refusals are in the audit log with their reason', async () => {
      const { key, line, cert } = await botWithCert('oracle-audit');
      const now = Date.now();
      const flipped = Buffer.from(cert.blob);
      flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0x01;
      const revoked = await botWithCert('oracle-audit-revoked');
      ok(await grpc.unary('/mezite.auth.v1.CertAuthorityService/RevokeCertificate', authv1.RevokeCertificateRequest, { serial: revoked.cert.serial.toString(), reason: 'stolen' }, authv1.RevokeCertificateResponse, bearer()), 'revoke');
      const replies: Record<string, RawReply> = {
        'another CA': await renew(resign(cert, generateCaKey('ed25519').privateKey, new Date(now - 60_000), new Date(now + 3600_000)), key),
        expired: await renew(resign(cert, userCa, new Date(now - 7200_000), new Date(now - 3600_000)), key),
        'changed signature': await renew(`${cert.keyType} ${flipped.toString('base64')}`, key),
        revoked: await renew(revoked.line, revoked.key),
      };
      expect(identical(replies)).toEqual(REFUSED);
      const byRequest = new Map((await auditEvents(grpc, admin, 'bot.renew')).map((e) => [e.requestId, e]));
      const want: Record<string, [string, string]> = {
        'another CA': ['not issued by a trusted CA', 'bot:?'],
        expired: ['expired', 'bot:oracle-audit'],
        'changed signature': ['bad certificate signature', 'bot:?'],
        revoked: ['revoked', 'bot:oracle-audit-revoked'],
      };
      for (const [what, r] of Object.entries(replies)) {
        const e = byRequest.get(r.requestId ?? '');
        expect({ what, result: e?.result, reason: e?.details.reason, target: e?.target }).toEqual({ what, result: 'failure', reason: want[what]?.[0], target: want[what]?.[1] });
      }
      expect((await renew(line, key)).code).toBe(0);
    });

    test('SshCert credentials: each refusal is in the audit log with its reason', async () => {
      const { key, cert } = await botWithCert('oracle-msh-audit');
      const now = Date.now();
      const replies: Record<string, RawReply> = {
        'another CA': await whoami(credential(resign(cert, generateCaKey('ed25519').privateKey, new Date(now - 60_000), new Date(now + 3600_000)), key)),
        expired: await whoami(credential(resign(cert, userCa, new Date(now - 7200_000), new Date(now - 3600_000)), key)),
        'signed by another key': await whoami(credential(`${cert.keyType} ${cert.blob.toString('base64')}`, newKey())),
      };
      expect(identical(replies)).toEqual({ code: Code.UNAUTHENTICATED, details: 'invalid certificate credential' });
      const byRequest = new Map((await auditEvents(grpc, admin, 'auth.authenticate')).map((e) => [e.requestId, e]));
      const want: Record<string, string> = { 'another CA': 'not issued by a trusted CA', expired: 'expired', 'signed by another key': 'bad proof of possession' };
      for (const [what, r] of Object.entries(replies)) {
        const e = byRequest.get(r.requestId ?? '');
        expect({ what, result: e?.result, reason: e?.details.reason, credential: e?.details.credential }).toEqual({ what, result: 'failure', reason: want[what], credential: 'bot certificate' });
      }
    });
  });
});

/** A `psk_live_` token with a valid checksum that was never issued (the format of docs/DECISIONS.md: CRC32 in 6 base62 digits). */
function wellFormedApiToken(): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const body = `psk_live_${Array.from(randomBytes(22), (b) => alphabet[b % 62]).join('')}`;
  let n = crc32(body) >>> 0;
  let sum = '';
  for (let i = 0; i < 6; i++) {
    sum = alphabet[n % 62] + sum;
    n = Math.floor(n / 62);
  }
  return body + sum;
}
