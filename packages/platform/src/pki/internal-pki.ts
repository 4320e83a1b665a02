import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { keyMatchesCert, leafProblem, signedBy } from './cert-inspect';
import { loadOrCreateCa } from './internal-ca';
import { issueLeaf, leafSans } from './issue-cert';
import { CERT_MODE, KEY_MODE, ensurePkiDir, pemPaths, readIfExists, writeFileAtomic } from './pki-files';

export { commonName, spkiPin } from './cert-inspect';

/** One service's mTLS identity: PEM contents and where they live on disk. */
export interface LeafCert {
  name: string;
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
}

/** The internal CA and the leaves `ensureInternalPki` was asked for. */
export interface InternalPki {
  dir: string;
  caCertPem: string;
  caCertPath: string;
  /** The leaf of `name`; throws if `name` was not among the names requested. */
  leaf(name: string): LeafCert;
}

/** Options of {@link ensureInternalPki}. */
export interface EnsureInternalPkiOptions {
  /** The PKI directory; created 0700 if missing. */
  dir: string;
  /** Service names (DNS labels, e.g. `token-service`); each gets `<name>.crt`/`<name>.key`. */
  names: string[];
  /** Extra host names or IP literals every leaf must carry as SANs, e.g. a container's host name. */
  hosts?: string[];
  /** The clock; injected so tests can age certificates without sleeping. */
  now?: () => Date;
}

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * Creates (first run) or loads the internal CA in `dir` and a leaf cert per name. Run by
 * whoever starts the stack, before the services. Idempotent: the CA is never replaced,
 * and a leaf is rewritten only when its files are missing or do not match, it is not
 * signed by the current CA, it expires within 30 days, or it lacks a requested SAN.
 * Not safe against two processes running it on one directory at the same time.
 */
export async function ensureInternalPki(opts: EnsureInternalPkiOptions): Promise<InternalPki> {
  const hosts = opts.hosts ?? [];
  for (const name of opts.names) {
    if (!DNS_NAME.test(name) || name.toLowerCase() === 'ca') throw new Error(`internal PKI: invalid service name ${JSON.stringify(name)}`);
  }
  for (const h of hosts) if (!isIP(h) && !DNS_NAME.test(h)) throw new Error(`internal PKI: invalid host ${JSON.stringify(h)}`);
  const now = (opts.now ?? (() => new Date()))();
  await ensurePkiDir(opts.dir);
  const ca = await loadOrCreateCa(opts.dir, now);
  const leaves = new Map<string, LeafCert>();
  for (const name of new Set(opts.names)) {
    const paths = pemPaths(opts.dir, name);
    let certPem = await readIfExists(paths.certPath);
    let keyPem = await readIfExists(paths.keyPath);
    const sans = leafSans(name, hosts);
    if (certPem === undefined || keyPem === undefined || leafProblem({ certPem, keyPem, ca: ca.node, sans, now }) !== undefined) {
      ({ certPem, keyPem } = await issueLeaf({ ca, name, hosts, now }));
      // Key first: a crash in between leaves a mismatched pair, which the next run reissues.
      await writeFileAtomic(paths.keyPath, keyPem, KEY_MODE);
      await writeFileAtomic(paths.certPath, certPem, CERT_MODE);
    }
    leaves.set(name, { name, certPem, keyPem, ...paths });
  }
  return {
    dir: opts.dir,
    caCertPem: ca.certPem,
    caCertPath: ca.certPath,
    leaf(name) {
      const leaf = leaves.get(name);
      if (!leaf) throw new Error(`internal PKI: no leaf for ${JSON.stringify(name)}; ensured: ${[...leaves.keys()].join(', ')}`);
      return leaf;
    },
  };
}

/**
 * Loads an existing PKI dir without creating anything (services use this; throws a
 * clear Error naming the missing file). Also fails at start-up, rather than at the first
 * handshake, when the key does not belong to the certificate or the certificate was not
 * issued by the CA. Expiry is not checked here: `ensureInternalPki` renews leaves.
 */
export function loadLeaf(opts: { caCertPath: string; certPath: string; keyPath: string }): { caCertPem: string; certPem: string; keyPem: string } {
  const caCertPem = readPem('CA certificate', opts.caCertPath);
  const certPem = readPem('certificate', opts.certPath);
  const keyPem = readPem('private key', opts.keyPath);
  const ca = parse('CA certificate', opts.caCertPath, () => new X509Certificate(caCertPem));
  const cert = parse('certificate', opts.certPath, () => new X509Certificate(certPem));
  if (!parse('private key', opts.keyPath, () => keyMatchesCert(keyPem, cert))) {
    throw new Error(`internal PKI: private key ${opts.keyPath} does not belong to certificate ${opts.certPath}`);
  }
  if (!signedBy(cert, ca)) throw new Error(`internal PKI: certificate ${opts.certPath} was not issued by the CA in ${opts.caCertPath}`);
  return { caCertPem, certPem, keyPem };
}

function readPem(what: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file is missing' : (code ?? (err as Error).message);
    throw new Error(`internal PKI: cannot read ${what} ${path}: ${why}`, { cause: err });
  }
}

function parse<T>(what: string, path: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw new Error(`internal PKI: ${what} ${path} is not valid PEM: ${(err as Error).message}`, { cause: err });
  }
}
