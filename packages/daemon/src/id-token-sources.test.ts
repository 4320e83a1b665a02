import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMeziteError } from '@mezite/identity';
import { UsageError } from './errors';
import { audienceFor, fetchGithubIdToken } from './id-token-sources';

/** The runner's ID-token protocol as mezd speaks it (design/reference/join-methods.md §1). */
describe('fetchGithubIdToken', () => {
  let server: Server;
  let url: string;
  let answer: { status: number; body: unknown } = { status: 200, body: { value: 'a.b.c' } };
  const seen: Array<{ url: string; auth: string }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization ?? '' });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    seen.length = 0;
    answer = { status: 200, body: { value: 'a.b.c' } };
  });

  test('appends &audience= to the URL it is given and sends the request token as a bearer', async () => {
    const t = await fetchGithubIdToken({ ACTIONS_ID_TOKEN_REQUEST_URL: `${url}/idtoken?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'req-1' }, 'mezite:default/gha deploy');
    expect(t).toBe('a.b.c');
    expect(seen).toEqual([{ url: '/idtoken?api-version=2.0&audience=mezite%3Adefault%2Fgha%20deploy', auth: 'Bearer req-1' }]);
  });

  test('without the variables (no id-token: write) it says what the job lacks', async () => {
    await expect(fetchGithubIdToken({}, 'x')).rejects.toThrow(/permissions: id-token: write/);
  });

  test('a 4xx is the job\'s problem, not retried; a 5xx or an answer without value is retried, then Unavailable', async () => {
    const env = { ACTIONS_ID_TOKEN_REQUEST_URL: `${url}/idtoken`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'req-1' };
    answer = { status: 403, body: {} };
    await expect(fetchGithubIdToken(env, 'x')).rejects.toBeInstanceOf(UsageError);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toBe('/idtoken?audience=x');
    seen.length = 0;
    answer = { status: 200, body: { value: '' } };
    const err = await fetchGithubIdToken(env, 'x', { tries: 2 }).catch((e: unknown) => e);
    expect(isMeziteError(err, 'Unavailable')).toBe(true);
    expect(seen).toHaveLength(2);
  });

  test('the default audience is mezite:TENANT/NAME; a configured one wins', () => {
    expect(audienceFor('gha-deploy', undefined)).toBe('mezite:default/gha-deploy');
    expect(audienceFor('acme/gha-deploy', undefined)).toBe('mezite:acme/gha-deploy');
    expect(audienceFor('gha-deploy', 'mezite-prod')).toBe('mezite-prod');
  });
});
