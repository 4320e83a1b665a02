import { delegatedWorld } from './test-world';
import { TestOidcIssuer } from './test-issuer';

const AUD = 'mezite:default/k8s-deploy';

/** The `kubernetes` method: projected service-account tokens, verified with the issuer's JWKS or a static JWKS. */
describe('kubernetes join method', () => {
  let issuer: TestOidcIssuer;
  beforeAll(async () => {
    issuer = await TestOidcIssuer.start();
  });
  afterAll(async () => issuer.stop());
  const world = (extra = '') =>
    delegatedWorld(`kind: join_token
metadata:
  name: k8s-deploy
spec:
  bot: github-deploy
  join_method: kubernetes
  allow:
    - service_account: deploy:mezd
  kubernetes:
    issuer: ${issuer.url}
${extra}`);
  const token = (ns = 'deploy', sa = 'mezd', over: Record<string, unknown> = {}) => issuer.mint(issuer.kubernetesClaims(ns, sa, { aud: [AUD], ...over }));

  test('the allowed service account joins, audited with its pod', async () => {
    const w = await world();
    await w.join(await token());
    expect((await w.instances())[0]?.joinMethod).toBe('kubernetes');
    expect(w.audit.events.find((e) => e.type === 'bot.join' && e.result === 'success')?.details).toMatchObject({ service_account: 'deploy:mezd', pod: 'mezd-7d9f8-abcde' });
  });

  test('another namespace or service account, a token not bound to a pod, a wrong audience are refused', async () => {
    const w = await world();
    expect((await w.refusal(await token('default', 'mezd'))).mismatches).toMatch(/service_account: wanted "deploy:mezd", got "default:mezd"/);
    expect((await w.refusal(await token('deploy', 'other'))).reason).toBe('no allow rule matched');
    const unbound = issuer.kubernetesClaims('deploy', 'mezd', { aud: [AUD] });
    delete (unbound['kubernetes.io'] as Record<string, unknown>).pod;
    expect((await w.refusal(await issuer.mint(unbound))).reason).toBe('not a pod-bound token');
    expect((await w.refusal(await token('deploy', 'mezd', { aud: ['https://kubernetes.default.svc.cluster.local'] }))).reason).toBe('audience mismatch');
    expect((await w.refusal(await token('deploy', 'mezd', { sub: 'system:serviceaccount:other:mezd' }))).reason).toBe('not a service-account token');
  });

  test('a static JWKS verifies without the issuer; the JWKS down otherwise fails closed', async () => {
    const w = await world(`    static_jwks: '${JSON.stringify(issuer.jwks())}'\n`);
    issuer.down = true;
    try {
      await expect(w.join(await token())).resolves.toMatchObject({ generation: 1 });
      const online = await world();
      await expect(online.join(await token())).rejects.toMatchObject({ code: 'Unavailable' });
    } finally {
      issuer.down = false;
    }
  });

  test('the issuer is required, and a rule names service_account only', async () => {
    const w = await world();
    const base = 'kind: join_token\nmetadata:\n  name: k2\nspec:\n  bot: github-deploy\n  join_method: kubernetes\n  allow:\n';
    await expect(w.resources.upsert(w.admin, { yaml: `${base}    - service_account: a:b\n`, fileName: 't.yaml', force: false })).rejects.toThrow(/spec.kubernetes.issuer: not a URL/);
    await expect(w.resources.upsert(w.admin, { yaml: `${base}    - namespace: a\n  kubernetes:\n    issuer: https://k8s.example.com\n`, fileName: 't.yaml', force: false })).rejects.toThrow(/not a kubernetes claim/);
  });
});
