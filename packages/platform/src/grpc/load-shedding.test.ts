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

test('the hint grows with the ratio of refusals to completed calls in the previous second, within bounds', async () => {
  let t = 0;
  const mw = loadSheddingMiddleware({ maxInFlight: 1, retryAfterMs: 1000, maxRetryAfterMs: 5000, now: () => t });
  let release: () => void = () => undefined;
  const hold = new Promise<void>((r) => (release = r));
  const call = (handler: () => Promise<void>) => ({ request: undefined, next: async function* () { await handler(); return undefined; } });
  const drain = async (g: AsyncGenerator<unknown, unknown, undefined>) => {
    for (;;) if ((await g.next()).done) return;
  };
  const refusal = async () => drain(mw(call(async () => undefined) as never, {} as never)).then(() => undefined, (e: { retryAfterMs?: number }) => e.retryAfterMs);
  // One call done in the first second, then one held while 30 are refused.
  await drain(mw(call(async () => undefined) as never, {} as never));
  const held = drain(mw(call(() => hold) as never, {} as never));
  const first: Array<number | undefined> = [];
  for (let i = 0; i < 30; i++) first.push(await refusal());
  expect(new Set(first)).toEqual(new Set([1000])); // nothing to go by yet: the base hint
  t = 1000; // next second: 30 refusals against 1 completion
  expect(await refusal()).toBe(5000); // 30× the base, bounded by maxRetryAfterMs
  release();
  await held;
  let release2: () => void = () => undefined;
  const held2 = drain(mw(call(() => new Promise<void>((r) => (release2 = r))) as never, {} as never));
  t = 2000; // that second: 1 refusal, 1 completion
  expect(await refusal()).toBe(1000);
  t = 5000; // a quiet gap: nothing carried over
  expect(await refusal()).toBe(1000);
  release2();
  await held2;
});

test('the second step of a renewal may use the reserve: other calls are refused while it is kept free', async () => {
  const finishing = new Set(['/x.v1.Join/CompleteRenewal']);
  const mw = loadSheddingMiddleware({ maxInFlight: 4, retryAfterMs: 1000, finishing: { methods: finishing, reserved: 2 } });
  const release: Array<() => void> = [];
  const call = (path: string) => ({ method: { path }, request: undefined, next: async function* () { await new Promise<void>((r) => release.push(r)); return undefined; } });
  const start = (path: string) => {
    const g = mw(call(path) as never, {} as never);
    const done = (async () => {
      for (;;) if ((await g.next()).done) return 'ok';
    })().catch((e: unknown) => (isMeziteError(e, 'ResourceExhausted') ? 'shed' : 'other'));
    return done;
  };
  const settle = () => new Promise((r) => setImmediate(r));
  const begins = [start('/x.v1.Join/BeginRenewal'), start('/x.v1.Join/BeginRenewal')];
  await settle();
  // Two in flight: a third new call is refused, the reserve is for finishing ones.
  await expect(start('/x.v1.Join/BeginRenewal')).resolves.toBe('shed');
  const completes = [start('/x.v1.Join/CompleteRenewal'), start('/x.v1.Join/CompleteRenewal')];
  await settle();
  expect(mw.inFlight).toBe(4);
  // Full: even a finishing call is refused beyond the cap.
  await expect(start('/x.v1.Join/CompleteRenewal')).resolves.toBe('shed');
  release.splice(0).forEach((r) => r());
  expect(await Promise.all([...begins, ...completes])).toEqual(['ok', 'ok', 'ok', 'ok']);
  expect(mw.shed).toBe(2);
  // Without a reserve configured, or with shedding off, nothing changes.
  expect(() => loadSheddingMiddleware({ maxInFlight: 0, retryAfterMs: 1000, finishing: { methods: finishing, reserved: 2 } })).not.toThrow();
  expect(() => loadSheddingMiddleware({ maxInFlight: 4, retryAfterMs: 1000, finishing: { methods: finishing, reserved: -1 } })).toThrow(/reserved/);
});
