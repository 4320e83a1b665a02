import { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import { context, propagation, trace } from '@opentelemetry/api';
import { NodeSDK, tracing } from '@opentelemetry/sdk-node';
import { createChannel, createClient } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';
import { permissionDenied } from '@mezite/identity';
import { createLogger, type Logger } from '../log/logger';
import { meziteMetrics, metricsRegistry } from '../metrics/metrics';
import { meziteTracer } from '../telemetry/tracing';
import { createMeziteClients } from './client';
import { createGrpcServer, type GrpcServer } from './server';

const bytes = (b: Buffer) => b;
/** A one-method service on raw bytes (no generated code): the request names what to do. */
const Echo = {
  echo: { path: '/mezite.test.v1.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: bytes, responseDeserialize: bytes },
} as const;

const exporter = new tracing.InMemorySpanExporter();
const sdk = new NodeSDK({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)], metricReaders: [], logRecordProcessors: [], autoDetectResources: false, serviceName: 'test' });
const lines: Array<Record<string, unknown>> = [];
const log: Logger = createLogger({ service: 'test', level: 'debug', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
const insecure = ChannelCredentials.createInsecure();

let front: GrpcServer;
let back: GrpcServer;
let frontPort: number;
let backClients: ReturnType<typeof createMeziteClients>;
beforeAll(async () => {
  sdk.start();
  // back: answers, logging with the root logger (not the request's child logger).
  back = createGrpcServer({ name: 'back', logger: log });
  back.services.add(Echo, {
    echo: async (req: Buffer) => {
      log.info('back handled', { what: req.toString() });
      if (req.toString() === 'refuse') throw permissionDenied('no');
      return Buffer.from('ok');
    },
  });
  const backPort = await back.listen('127.0.0.1:0', ServerCredentials.createInsecure());
  backClients = createMeziteClients({ address: `127.0.0.1:${backPort}`, credentials: insecure, peerName: 'back' });
  const toBack = backClients.create(Echo);
  // front: calls back, as the auth-server calls token-service.
  front = createGrpcServer({ name: 'front', logger: log });
  front.services.add(Echo, { echo: async (req: Buffer) => toBack.echo(req) });
  frontPort = await front.listen('127.0.0.1:0', ServerCredentials.createInsecure());
});
afterAll(async () => {
  backClients.close();
  await front.shutdown(100);
  await back.shutdown(100);
  await sdk.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

test('a call through two servers is one trace: caller → front → back, parents linked by W3C traceparent', async () => {
  exporter.reset();
  const clients = createMeziteClients({ address: `127.0.0.1:${frontPort}`, credentials: insecure, peerName: 'front' });
  const traceId = await meziteTracer().startActiveSpan('cli', async (root) => {
    await clients.create(Echo).echo(Buffer.from('hello'));
    root.end();
    return root.spanContext().traceId;
  });
  clients.close();
  const spans = exporter.getFinishedSpans();
  expect(spans.map((s) => s.spanContext().traceId)).toEqual(spans.map(() => traceId));
  expect(spans).toHaveLength(5);
  const childOf = (parent: { spanContext(): { spanId: string } }, kind: number) => spans.find((s) => s.kind === kind && s.parentSpanContext?.spanId === parent.spanContext().spanId)!;
  const root = spans.find((s) => s.name === 'cli')!;
  expect(root.parentSpanContext).toBeUndefined();
  const cliCall = childOf(root, 2); // CLIENT
  const frontServer = childOf(cliCall, 1); // SERVER
  const frontCall = childOf(frontServer, 2);
  const backServer = childOf(frontCall, 1);
  for (const s of [cliCall, frontServer, frontCall, backServer]) expect(s.name).toBe('mezite.test.v1.Echo/Echo');
  expect(backServer.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.service': 'mezite.test.v1.Echo', 'rpc.method': 'Echo', 'rpc.grpc.status_code': 0 });
  expect(typeof backServer.attributes['mezite.request_id']).toBe('string');

  // The back's log line, written with the root logger, names the request and the trace.
  const line = lines.find((l) => l.msg === 'back handled' && l.what === 'hello')!;
  expect(line).toMatchObject({ trace_id: traceId, span_id: backServer.spanContext().spanId, request_id: backServer.attributes['mezite.request_id'] });
});

test('a caller’s request id reaches every hop, and lines outside a request carry none', async () => {
  const clients = createMeziteClients({ address: `127.0.0.1:${frontPort}`, credentials: insecure, peerName: 'front' });
  await clients.create(Echo).echo(Buffer.from('with-id'), { requestId: 'req-123' });
  clients.close();
  expect(lines.find((l) => l.msg === 'back handled' && l.what === 'with-id')).toMatchObject({ request_id: 'req-123' });
  log.info('outside');
  expect(lines.at(-1)).not.toHaveProperty('request_id');
  expect(lines.at(-1)).not.toHaveProperty('trace_id');
});

test('latency is recorded per method and code, refusals by reason', async () => {
  const clients = createMeziteClients({ address: `127.0.0.1:${frontPort}`, credentials: insecure, peerName: 'front' });
  await expect(clients.create(Echo).echo(Buffer.from('refuse'))).rejects.toMatchObject({ code: 'PermissionDenied' });
  clients.close();
  const text = await metricsRegistry().metrics();
  expect(text).toMatch(/mezite_grpc_server_handling_seconds_count\{grpc_service="mezite\.test\.v1\.Echo",grpc_method="Echo",grpc_code="OK"\} [1-9]/);
  expect(text).toMatch(/mezite_grpc_server_handling_seconds_count\{grpc_service="mezite\.test\.v1\.Echo",grpc_method="Echo",grpc_code="PERMISSION_DENIED"\} [1-9]/);
  expect(text).toMatch(/mezite_refusals_total\{reason="permission_denied",method="\/mezite\.test\.v1\.Echo\/Echo"\} 2/); // back refused, and front passed the refusal on
  expect(meziteMetrics.refusals).toBeDefined();
});

test('the plaintext health listener reports the main server’s status', async () => {
  const s = createGrpcServer({ name: 'svc', logger: log });
  await s.listen('127.0.0.1:0', ServerCredentials.createInsecure(), { deferServing: true });
  const port = await s.listenHealth('127.0.0.1:0');
  const channel = createChannel(`127.0.0.1:${port}`, insecure);
  const health = createClient(HealthDefinition, channel);
  await expect(health.check({ service: '' })).resolves.toMatchObject({ status: 2 }); // NOT_SERVING until serving()
  s.serving();
  await expect(health.check({ service: '' })).resolves.toMatchObject({ status: 1 });
  await expect(health.check({ service: 'svc' })).resolves.toMatchObject({ status: 1 });
  await s.shutdown(100);
  await expect(health.check({ service: '' }, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  channel.close();
});
