/**
 * What a client process (mezd, a CLI) needs from the platform, and nothing a server
 * needs: logs, the gRPC client with its credentials and middleware, the CA pin and
 * tracing per run. The package index also loads the gRPC server, `pg`,
 * `node-pg-migrate`, `ioredis` and `@peculiar/x509`: ~18 MiB of resident memory an idle
 * mezd never uses (docs/PERFORMANCE.md, row 7). Everything here is in the index too.
 */
export * from './log/logger';
export * from './grpc/client';
export * from './grpc/credentials';
export { spkiPin } from './pki/spki-pin';
export { commandSpanName, runWithTracing } from './telemetry/tracing';
export { tracingEnabled } from './telemetry/tracing-config';
