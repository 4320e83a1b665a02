import type { TlsMaterial } from '../grpc/credentials';
import { loadLeaf } from '../pki';

/**
 * Reads a service's PEM files at start-up, failing with the path that is missing, a key
 * that does not match its certificate, or a certificate the CA did not issue.
 */
export function readTlsFiles(paths: { ca: string; cert: string; key: string }): TlsMaterial {
  return loadLeaf({ caCertPath: paths.ca, certPath: paths.cert, keyPath: paths.key });
}
