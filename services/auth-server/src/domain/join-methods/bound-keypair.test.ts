import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { isMeziteError } from '@mezite/identity';
import { formatPublicKey, makeBoundKeypairCredential, parsePublicKey } from '@mezite/ssh';
import { delegatedWorld } from './test-world';

const AUD = 'mezite:default/bk-host';
const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const secretYaml = (extra = '') => `kind: join_token\nmetadata:\n  name: bk-host\nspec:\n  bot: github-deploy\n  join_method: bound_keypair\n  bound_keypair:\n    registration_secret: generate\n${extra}`;
const yaml = (pub: string, extra = '') => `kind: join_token\nmetadata:\n  name: bk-host\nspec:\n  bot: github-deploy\n  join_method: bound_keypair\n  bound_keypair:\n    public_key: ${pub}\n${extra}`;

/** The `bound_keypair` method through JoinManager: joins, recoveries, rotation, and every refusal. */
describe('bound_keypair join method', () => {
  async function setup(extra = '') {
    const joinKey = generateKeyPairSync('ed25519');
    const w = await delegatedWorld(yaml(formatPublicKey(joinKey.publicKey), extra));
    /** A join: a fresh certificate key, a proof by `key` (default: the registered join key). */
    const join = (o: { key?: KeyObject; newJoinKey?: KeyObject; timeMs?: number; nonce?: Buffer; audience?: string; cert?: string; source?: string; credential?: string } = {}) => {
      const cert = o.cert ?? formatPublicKey(ec().publicKey);
      const credential = o.credential ?? makeBoundKeypairCredential({ joinKey: o.key ?? joinKey.privateKey, ...(o.newJoinKey ? { newJoinKey: o.newJoinKey } : {}), audience: o.audience ?? AUD, certPublicKeyBlob: parsePublicKey(cert).blob, timeMs: o.timeMs ?? w.clock.now().getTime(), nonce: o.nonce ?? randomBytes(16) });
      return { credential, cert, run: () => w.joins.join({ joinToken: 'bk-host', idToken: credential, publicKey: cert, requestedTtlMs: 3600_000, requestId: randomUUID(), source: o.source ?? '198.51.100.9' }) };
    };
    const refusedWith = async (p: Promise<unknown>, reason: string) => {
      const err = await p.then(() => null, (e: unknown) => e);
      expect(isMeziteError(err, 'Unauthenticated') && err.message).toBe('invalid join token');
      expect(w.audit.events.filter((e) => e.type === 'bot.join' && e.result === 'failure').pop()?.details.reason).toBe(reason);
    };
    const resource = async () => (await w.resources.get(w.admin, 'bk-host')).options;
    /** Lets every certificate issued so far expire. */
    const expire = () => w.clock.advance(2 * 3600_000);
    return { ...w, joinKey, join, refusedWith, resource, expire };
  }

  it('joins with the registered key: a new instance, bound to the resource', async () => {
    const s = await setup();
    const issued = await s.join().run();
    expect((await s.instances()).map((i) => i.id)).toEqual([issued.instanceId]);
    expect(await s.resource()).toMatchObject({ instance_id: issued.instanceId, recoveries: '0' });
  });

  it('refuses a key that is not registered', async () => {
    const s = await setup();
    await s.refusedWith(s.join({ key: generateKeyPairSync('ed25519').privateKey }).run(), 'wrong join key');
  });

  it('refuses a proof whose signature does not cover what is sent (another certificate key)', async () => {
    const s = await setup();
    const a = s.join();
    const other = formatPublicKey(ec().publicKey);
    await s.refusedWith(s.join({ credential: a.credential, cert: other }).run(), "bad signature");
  });

  it('refuses a proof made for another resource', async () => {
    const s = await setup();
    await s.refusedWith(s.join({ audience: 'mezite:default/other' }).run(), 'bad signature');
  });

  it('refuses a statement signed more than 2 minutes from the server clock', async () => {
    const s = await setup();
    await s.refusedWith(s.join({ timeMs: s.clock.now().getTime() - 180_000 }).run(), 'signed time out of window');
  });

  it('refuses a malformed credential', async () => {
    const s = await setup();
    await s.refusedWith(s.join({ credential: 'bkp1.AAAA' }).run(), 'malformed proof');
  });

  it('answers a replayed proof with the same certificate and never a second instance', async () => {
    const s = await setup();
    const a = s.join();
    const first = await a.run();
    const again = await a.run();
    expect(again.instanceId).toBe(first.instanceId);
    expect(await s.instances()).toHaveLength(1);
    expect((await s.resource()).recoveries).toBe('0');
  });

  it('answers a retry with a fresh proof for the same certificate key (a lost answer), not as a copy', async () => {
    const s = await setup();
    const a = s.join();
    const first = await a.run();
    const retry = await s.join({ cert: a.cert }).run();
    expect(retry.instanceId).toBe(first.instanceId);
    expect((await s.instances()).every((i) => !i.lock)).toBe(true);
  });

  it('refuses a replayed proof once the instance it created has expired', async () => {
    const s = await setup();
    const a = s.join();
    await a.run();
    s.expire();
    await s.refusedWith(a.run(), 'signed time out of window');
  });

  it('recovers after the certificate expired, counting recoveries, and refuses beyond max_recoveries', async () => {
    const s = await setup('    max_recoveries: 2\n');
    await s.join().run();
    for (const n of [1, 2]) {
      s.expire();
      await s.join().run();
      expect((await s.resource()).recoveries).toBe(String(n));
    }
    s.expire();
    await s.refusedWith(s.join().run(), 'recoveries exhausted');
    expect(await s.instances()).toHaveLength(3);
  });

  it('an admin resets the counter by replacing the resource', async () => {
    const s = await setup('    max_recoveries: 0\n');
    await s.join().run();
    s.expire();
    await s.refusedWith(s.join().run(), 'recoveries exhausted');
    await s.resources.upsert(s.admin, { yaml: yaml(formatPublicKey(s.joinKey.publicKey), '    max_recoveries: 0\n'), fileName: 't.yaml', force: true });
    await s.join().run();
  });

  it('rotates the join key: the new key binds, the old one is refused', async () => {
    const s = await setup();
    const next = generateKeyPairSync('ed25519');
    await s.join({ newJoinKey: next.privateKey }).run();
    expect((await s.resource()).bound_public_key).toBe(formatPublicKey(next.publicKey));
    s.expire();
    await s.refusedWith(s.join().run(), 'wrong join key');
    await s.join({ key: next.privateKey }).run();
  });

  it('a rotation retried after its answer was lost (old key + the now-bound new key) is still admitted', async () => {
    const s = await setup();
    const next = generateKeyPairSync('ed25519');
    const a = s.join({ newJoinKey: next.privateKey });
    const first = await a.run();
    // mezd did not learn the answer: it presents the same rotation again, with a fresh proof for the same certificate key.
    const retry = await s.join({ newJoinKey: next.privateKey, cert: a.cert }).run();
    expect(retry.instanceId).toBe(first.instanceId);
    expect((await s.resource()).bound_public_key).toBe(formatPublicKey(next.publicKey));
    // Only the retired key, without the bound key's signature, is refused.
    s.expire();
    await s.refusedWith(s.join().run(), 'wrong join key');
  });

  it('refuses a rotation the new key did not sign', async () => {
    const s = await setup();
    const a = s.join({ newJoinKey: generateKeyPairSync('ed25519').privateKey });
    // Swap the new key for another one: the statement no longer verifies.
    const c = Buffer.from(a.credential.slice(5), 'base64url');
    const tampered = 'bkp1.' + Buffer.concat([c.subarray(0, c.length - 10), Buffer.alloc(10)]).toString('base64url');
    await s.refusedWith(s.join({ credential: tampered, cert: a.cert }).run(), 'bad signature');
  });

  it('a second machine with the same key during a live lineage is a copy: locked, revoked, both addresses audited', async () => {
    const s = await setup();
    const first = await s.join({ source: '198.51.100.9' }).run();
    await s.refusedWith(s.join({ source: '203.0.113.7' }).run(), 'copied join key');
    const inst = (await s.instances()).find((i) => i.id === first.instanceId);
    expect(inst?.lock?.reason).toMatch(/copy of the join key/);
    const lock = s.audit.events.find((e) => e.type === 'bot.lock');
    expect(lock?.details).toMatchObject({ reason: 'copied join key', instance: first.instanceId, first_address: '198.51.100.9', second_address: '203.0.113.7' });
    expect(Number(lock?.details.revoked_certificates)).toBeGreaterThan(0);
    // The key is burnt: even after expiry it does not join again until an admin re-registers.
    s.expire();
    await s.refusedWith(s.join().run(), 'join key of a locked instance');
  });

  it.each([
    ['an RSA key', () => formatPublicKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey), /Ed25519 or ECDSA/],
    ['no key', () => '', /public_key/],
    ['server state', () => `${formatPublicKey(generateKeyPairSync('ed25519').publicKey)}\n    recoveries: 0`, /kept by the server/],
  ])('refuses a resource with %s', async (_n, key, msg) => {
    await expect(delegatedWorld(yaml(key()))).rejects.toThrow(msg);
  });

  describe('with a one-time registration secret', () => {
    async function registering() {
      const w = await delegatedWorld(secretYaml());
      const created = await w.resources.upsert(w.admin, { yaml: secretYaml(), fileName: 't.yaml', force: true });
      const secret = created.shown?.registration_secret as string;
      const join = (o: { secret?: string; key?: KeyObject; source?: string } = {}) => {
        const key = o.key ?? generateKeyPairSync('ed25519').privateKey;
        const cert = formatPublicKey(ec().publicKey);
        const credential = makeBoundKeypairCredential({ joinKey: key, audience: AUD, certPublicKeyBlob: parsePublicKey(cert).blob, timeMs: w.clock.now().getTime(), nonce: randomBytes(16), registrationSecret: o.secret ?? secret });
        return w.joins.join({ joinToken: 'bk-host', idToken: credential, publicKey: cert, requestedTtlMs: 3600_000, requestId: randomUUID(), source: o.source ?? '198.51.100.9' });
      };
      const lastReason = () => w.audit.events.filter((e) => e.type === 'bot.join' && e.result === 'failure').pop()?.details.reason;
      return { ...w, secret, join, lastReason };
    }

    it('is shown once and stored only as its keyed hash', async () => {
      const s = await registering();
      expect(s.secret).toMatch(/^bkr_[A-Za-z0-9_-]{32}$/);
      const stored = (await s.resources.get(s.admin, 'bk-host')).options;
      expect(JSON.stringify(stored)).not.toContain(s.secret);
      expect(stored.registration_secret_hash).toMatch(/^[0-9a-f]{64}$/);
    });

    it('binds the key the machine registers with; the secret is then spent', async () => {
      const s = await registering();
      const key = generateKeyPairSync('ed25519');
      await s.join({ key: key.privateKey });
      const stored = (await s.resources.get(s.admin, 'bk-host')).options;
      expect(stored.bound_public_key).toBe(formatPublicKey(key.publicKey));
      expect(stored.registration_secret_hash).toBeUndefined();
      await expect(s.join()).rejects.toThrow('invalid join token');
      expect(s.lastReason()).toBe('wrong join key');
    });

    it('refuses a wrong secret', async () => {
      const s = await registering();
      await expect(s.join({ secret: 'bkr_' + 'A'.repeat(32) })).rejects.toThrow('invalid join token');
      expect(s.lastReason()).toBe('wrong registration secret');
      expect(await s.instances()).toHaveLength(0);
    });

    it('20 machines redeem one secret at once: exactly one registers', async () => {
      const s = await registering();
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => s.join({ source: `198.51.100.${i + 1}` })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(await s.instances()).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected').every((r) => /invalid join token/.test(String((r as PromiseRejectedResult).reason)))).toBe(true);
    });

    it.each([['public_key and a secret', `    public_key: ${formatPublicKey(generateKeyPairSync('ed25519').publicKey)}\n`], ['a secret other than generate', '']])('refuses a resource with %s', async (_n, extra) => {
      const doc = extra ? secretYaml(extra) : secretYaml().replace('generate', 'hunter2');
      await expect(delegatedWorld(doc)).rejects.toThrow(/exactly one|only value/);
    });
  });
});
