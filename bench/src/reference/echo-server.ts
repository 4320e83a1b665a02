import { Server, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { createGrpcServer, createLogger, publicServerCredentials, readTlsFiles } from '@mezite/platform';
import { serveChild } from '../child';
import { EchoDefinition } from './echo-definition';

/**
 * The reference servers, in a process of their own (as the auth-server is): a bare
 * grpc-js server and a Mezite server (`createGrpcServer`: nice-grpc with the request
 * middleware every service has), both serving the echo method over TLS with the
 * auth-server's own certificate and key, as its public port does.
 */
async function start(p: { ca: string; cert: string; key: string }): Promise<{ rawPort: number; mezitePort: number }> {
  const tls = readTlsFiles(p);
  const raw = new Server();
  raw.addService(EchoDefinition, {
    echo: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => cb(null, call.request),
  });
  const rawPort = await new Promise<number>((resolve, reject) => raw.bindAsync('127.0.0.1:0', publicServerCredentials(tls), (err, port) => (err ? reject(err) : resolve(port))));

  // Logs as a service's do (JSON lines at info, so nothing per call); to /dev/null here.
  const mezite = createGrpcServer({ name: 'mezite.bench.v1', logger: createLogger({ service: 'bench-echo', write: () => undefined }) });
  mezite.services.add(EchoDefinition, { echo: async (req: Buffer) => req });
  const mezitePort = await mezite.listen('127.0.0.1:0', publicServerCredentials(tls));
  return { rawPort, mezitePort };
}

serveChild({ start });
