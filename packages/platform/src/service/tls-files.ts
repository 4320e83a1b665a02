import { readFileSync } from 'node:fs';
import { invalidArgument } from '@mezite/identity';
import type { TlsMaterial } from '../grpc/credentials';

/** Reads a service's PEM files, failing at start-up with the path that is missing. */
export function readTlsFiles(paths: { ca: string; cert: string; key: string }): TlsMaterial {
  const read = (what: string, p: string) => {
    try {
      return readFileSync(p, 'utf8');
    } catch (err) {
      throw invalidArgument(`cannot read ${what} ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  };
  return { caCertPem: read('CA certificate', paths.ca), certPem: read('certificate', paths.cert), keyPem: read('private key', paths.key) };
}
