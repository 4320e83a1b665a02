import { ServerCredentials, ChannelCredentials } from '@grpc/grpc-js';
import { isMeziteError } from '@mezite/identity';
import { nullLogger } from '../log/logger';
import { createMeziteClients } from './client';
import { loadSheddingMiddleware } from './load-shedding';
import { createGrpcServer, type GrpcServer } from './server';

const bytes = (b: Buffer) => b;
const Slow = {
  wait: { path: '/mezite.test.v1.Slow/Wait', requestStream: false, responseStream: false, requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: bytes, responseDeserialize: bytes },
} as const;

let server: GrpcServer;
let clients: ReturnType<typeof createMeziteClients>;
const shedder = loadSheddingMiddleware({ maxInFlight: 3, retryAfterMs: 1500 });
/** Calls parked in the handler until released. */
const parked: Array<() => void> = [];

beforeAll(async () => {
  server = createGrpcServer({ name: 'slow', logger: nullLogger });
  server.services.with(shedder).add(Slow, {
    wait: async () => {
      await new Promise<void>((r) => parked.push(r));
      return Buffer.from('ok');
    },
  });
  const port = await server.listen('127.0.0.1:0', ServerCredentials.createInsecure());
  clients = createMeziteClients({ address: `127.0.0.1:${port}`, credentials: ChannelCredentials.createInsecure(), peerName: 'slow' });
});
afterAll(async () => {
  clients.close();
  await server.shutdown(100);
});

test('beyond maxInFlight calls are refused at once with RESOURCE_EXHAUSTED and a retry hint; capacity comes back as calls finish', async () => {
  const c = clients.create(Slow);
  const held = [c.wait(Buffer.from('1')), c.wait(Buffer.from('2')), c.wait(Buffer.from('3'))];
  for (let i = 0; i < 100 && parked.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
  expect(shedder.inFlight).toBe(3);

  const refused = await c.wait(Buffer.from('4')).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isMeziteError(refused, 'ResourceExhausted')).toBe(true);
  expect(refused).toMatchObject({ message: 'the server is busy; retry in 2s', retryAfterMs: 1500 });
  expect(shedder.shed).toBe(1);

  for (const release of parked.splice(0)) release();
  await Promise.all(held);
  expect(shedder.inFlight).toBe(0);
  const again = c.wait(Buffer.from('5'));
  for (let i = 0; i < 100 && parked.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
  parked.splice(0).forEach((r) => r());
  await expect(again).resolves.toEqual(Buffer.from('ok'));
});

test('options are checked at start-up', () => {
  expect(() => loadSheddingMiddleware({ maxInFlight: -1, retryAfterMs: 1000 })).toThrow(/maxInFlight/);
  expect(() => loadSheddingMiddleware({ maxInFlight: 1.5, retryAfterMs: 1000 })).toThrow(/maxInFlight/);
  expect(loadSheddingMiddleware({ maxInFlight: 0, retryAfterMs: 1000 }).shed).toBe(0);
});
