import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grantsOf, validateRole, type LabelSelector } from '@mezite/identity';
import { formatPublicKey, generateCaKey, parsePublicKey, signCertificate, CLAIMS_EXTENSION } from '@mezite/ssh';
import { authorizedPrincipals } from './authorized-principals';
import { generateBotKey } from './bot-identity';

const ca = generateCaKey('ecdsa-p256');
const key = generateBotKey();
const dir = mkdtempSync(join(tmpdir(), 'mezd-principals-'));

/** `{ [name]: values }`: a computed key is an own property even for `__proto__`. */
const sel = (name: string, values: string[]): LabelSelector => ({ [name]: values });

const TENANT = '6f1c9a62-0d1e-4c53-9b3e-3f0f5a1b2c3d';

/** A bot certificate for `deploy` carrying the grants of one role, as the auth server signs it; returns `%t` and `%k`. */
function certFor(allow: LabelSelector, deny: LabelSelector = {}, tenant: string | null = TENANT): { keyType: string; key: string } {
  const role = validateRole({ name: 'r', allowLogins: ['deploy'], denyLogins: ['root'], allowNodeLabels: allow, denyNodeLabels: deny });
  const line = signCertificate({
    ca: { key: ca.privateKey },
    subjectKey: parsePublicKey(formatPublicKey(key)),
    type: 'user',
    serial: 7n,
    keyId: 'bot:deploy',
    principals: ['deploy'],
    validAfter: new Date(Date.now() - 60_000),
    validBefore: new Date(Date.now() + 3600_000),
    extensions: { 'permit-pty': '', [CLAIMS_EXTENSION]: JSON.stringify({ v: 1, bot: 'deploy', ...(tenant !== null ? { tenant } : {}), grants: grantsOf([role]) }) },
  }).line;
  const [keyType = '', b64 = ''] = line.split(' ');
  return { keyType, key: b64 };
}

/** The node file `mezd node` writes, as text (so a label named `__proto__` is an own property when read back). */
function nodeFile(labelsJson: string, tenant: string | null = TENANT): string {
  const f = join(dir, `node-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, `{"name":"web-1","labels":${labelsJson}${tenant !== null ? `,"tenant":${JSON.stringify(tenant)}` : ''}}`);
  return f;
}

describe('mezd authorized-principals: only the node tenant’s bots (the User CA is shared by every tenant)', () => {
  const all = { '*': ['*'] };
  test("a bot of this node's tenant whose roles reach the node logs in", () => {
    expect(authorizedPrincipals({ nodeFile: nodeFile('{}'), user: 'deploy', ...certFor(all) })).toEqual({ principals: ['deploy'], reason: 'allowed' });
  });
  test("another tenant's bot, with a role that reaches every node, gets nothing", () => {
    const r = authorizedPrincipals({ nodeFile: nodeFile('{}'), user: 'deploy', ...certFor(all, {}, 'a1b2c3d4-0000-4000-8000-000000000000') });
    expect(r).toEqual({ principals: [], reason: "the certificate is not of a bot of this node's tenant" });
  });
  test('a certificate without a tenant, or a node file without one (an older mezd node), admits no login', () => {
    expect(authorizedPrincipals({ nodeFile: nodeFile('{}'), user: 'deploy', ...certFor(all, {}, null) }).principals).toEqual([]);
    const old = authorizedPrincipals({ nodeFile: nodeFile('{}', null), user: 'deploy', ...certFor(all) });
    expect(old).toEqual({ principals: [], reason: expect.stringContaining('names no tenant (written by an older mezd node): restart mezd node') });
    expect(authorizedPrincipals({ nodeFile: nodeFile('{}', ''), user: 'deploy', ...certFor(all) }).principals).toEqual([]);
  });
});

describe('mezd authorized-principals: label names Object.prototype has are labels like any other', () => {
  test.each<[string, LabelSelector, LabelSelector, string, string[]]>([
    ['allow toString: * on a node without that label', sel('toString', ['*']), {}, '{"env":"prod"}', []],
    ['allow constructor: * on a node with no labels', sel('constructor', ['*']), {}, '{}', []],
    ['allow hasOwnProperty: * and env: prod on a node with env=prod only', { ...sel('hasOwnProperty', ['*']), env: ['prod'] }, {}, '{"env":"prod"}', []],
    ['allow valueOf: * on a node without that label', sel('valueOf', ['*']), {}, '{"env":"prod"}', []],
    ['allow toString: [prod] on a node with toString=prod', sel('toString', ['prod']), {}, '{"toString":"prod"}', ['deploy']],
    ['allow toString: [prod] on a node with toString=dev', sel('toString', ['prod']), {}, '{"toString":"dev"}', []],
    ['allow toString: * on a node with toString=dev', sel('toString', ['*']), {}, '{"toString":"dev"}', ['deploy']],
    ['deny constructor: * does not deny a node without that label', { env: ['prod'] }, sel('constructor', ['*']), '{"env":"prod"}', ['deploy']],
    ['deny toString: [prod] denies a node with toString=prod', { env: ['prod'] }, sel('toString', ['prod']), '{"env":"prod","toString":"prod"}', []],
    ['a node file whose __proto__ is an object is refused, never taken as a prototype (env would be inherited)', { env: ['prod'] }, {}, '{"__proto__":{"env":"prod"}}', []],
    ['a node file naming __proto__ as a plain label: env is still not a label of the node', { env: ['prod'] }, {}, '{"__proto__":"prod"}', []],
  ])('%s', (_, allow, deny, labels, want) => {
    const r = authorizedPrincipals({ nodeFile: nodeFile(labels), user: 'deploy', ...certFor(allow, deny) });
    expect(r.principals).toEqual(want);
  });

  test('a node file whose labels are a list is unreadable: nothing is allowed', () => {
    const r = authorizedPrincipals({ nodeFile: nodeFile('["prod"]'), user: 'deploy', ...certFor({ '*': ['*'] }) });
    expect(r).toEqual({ principals: [], reason: expect.stringMatching(/cannot read the node file/) });
  });
});
