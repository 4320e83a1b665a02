import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuth2MachineIdp } from './oauth2-machine-idp';

describe('OAuth2MachineIdp: client secrets never cross a network in cleartext', () => {
  let server: Server;
  let seen: string[];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers.authorization ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'x', token_type: 'Bearer' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  beforeEach(() => (seen = []));
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('http on loopback is asked (the credentials arrive)', async () => {
    const idp = new OAuth2MachineIdp({ tokenEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token` });
    await idp.verify('ci', 's3cret');
    expect(seen).toEqual([`Basic ${Buffer.from('ci:s3cret').toString('base64')}`]);
  });

  test('an http endpoint off loopback (stored before configuration refused it) is Unavailable, and nothing is sent', async () => {
    const fetchSpy = jest.spyOn(globalThis, 'fetch');
    try {
      const idp = new OAuth2MachineIdp({ tokenEndpoint: 'http://idp.example.invalid/token' });
      await expect(idp.verify('ci', 's3cret')).rejects.toMatchObject({ code: 'Unavailable', message: expect.stringContaining('not reachable over https') });
      expect(fetchSpy).not.toHaveBeenCalled();
    } finally {
      fetchSpy.mockRestore();
    }
  });
});
