import { delegatedWorld } from './test-world';
import { TestOidcIssuer, type Claims } from './test-issuer';

const AUD = 'mezite:default/gitlab-deploy';

/** The `gitlab` method against a test issuer on 127.0.0.1 with GitLab's claim shapes. */
describe('gitlab join method', () => {
  let issuer: TestOidcIssuer;
  let w: Awaited<ReturnType<typeof delegatedWorld>>;
  beforeAll(async () => {
    issuer = await TestOidcIssuer.start();
  });
  afterAll(async () => issuer.stop());
  beforeEach(async () => {
    w = await delegatedWorld(`kind: join_token
metadata:
  name: gitlab-deploy
spec:
  bot: github-deploy
  join_method: gitlab
  allow:
    - project_path: my-group/my-project
      ref: main
      ref_protected: "true"
  gitlab:
    domain: ${issuer.url}
`);
  });
  const claims = (over: Claims = {}) => issuer.gitlabClaims({ aud: AUD, ...over });

  test('a job on the protected main branch of the project joins as a new instance', async () => {
    const r = await w.join(await issuer.mint(claims()));
    expect(r.generation).toBe(1);
    expect((await w.instances())[0]?.joinMethod).toBe('gitlab');
    expect(w.audit.events.find((e) => e.type === 'bot.join' && e.result === 'success')?.details).toMatchObject({ join_method: 'gitlab', project_path: 'my-group/my-project', pipeline_source: 'push' });
  });

  test('another project, an unprotected ref, another audience, a replay and another issuer are each refused', async () => {
    expect((await w.refusal(await issuer.mint(claims({ project_path: 'my-group/other' })))).mismatches).toMatch(/project_path: wanted "my-group\/my-project", got "my-group\/other"/);
    expect((await w.refusal(await issuer.mint(claims({ ref_protected: 'false' })))).mismatches).toMatch(/ref_protected/);
    expect((await w.refusal(await issuer.mint(claims({ aud: 'https://vault.example.com' })))).reason).toBe('audience mismatch');
    expect((await w.refusal(await issuer.mint(claims({ iss: 'https://gitlab.com' })))).reason).toBe('issuer mismatch');
    const once = await issuer.mint(claims());
    await w.join(once);
    expect((await w.refusal(once)).reason).toBe('replayed id token');
  });

  test('a rule must pin a project, a namespace or a subject, and name GitLab claims only', async () => {
    const base = 'kind: join_token\nmetadata:\n  name: gl2\nspec:\n  bot: github-deploy\n  join_method: gitlab\n  allow:\n';
    await expect(w.resources.upsert(w.admin, { yaml: `${base}    - ref: main\n`, fileName: 't.yaml', force: false })).rejects.toThrow(/name at least one of sub, project_path, namespace_path/);
    await expect(w.resources.upsert(w.admin, { yaml: `${base}    - project_path: a/b\n      repository: a/b\n`, fileName: 't.yaml', force: false })).rejects.toThrow(/not a gitlab claim/);
  });
});
