import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { failedPrecondition, unavailable } from '@mezite/identity';

/** Where Kubernetes mounts a pod's service account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Overrides of the in-cluster settings, for tests and for running mezd outside a pod
 * against an HTTPS API server with a bearer token. Not configuration keys of mezd: a
 * pod never needs them.
 */
export const KUBE_ENV = {
  /** `https://host:port` of the API server; default from KUBERNETES_SERVICE_HOST/_PORT. */
  api: 'MEZITE_KUBE_API',
  tokenFile: 'MEZITE_KUBE_TOKEN_FILE',
  caFile: 'MEZITE_KUBE_CA_FILE',
  namespaceFile: 'MEZITE_KUBE_NAMESPACE_FILE',
} as const;

/** How to reach the API server from inside a pod. */
export interface KubernetesApiSettings {
  /** `https://host:port`. */
  server: string;
  /** The bearer token, re-read before each write: projected tokens rotate (about hourly). */
  tokenFile: string;
  /** The CA bundle the API server's certificate is verified against. */
  caFile: string;
  /** The pod's namespace, for a Secret URL without one. */
  namespaceFile: string;
}

/**
 * The in-cluster settings as client-go's `rest.InClusterConfig` finds them: the API
 * server from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, the rest from the
 * service account directory; each overridable through {@link KUBE_ENV}.
 * FailedPrecondition outside a pod.
 */
export function inClusterSettings(env: NodeJS.ProcessEnv): KubernetesApiSettings {
  const file = (name: keyof typeof KUBE_ENV, base: string) => env[KUBE_ENV[name]] || join(SERVICE_ACCOUNT_DIR, base);
  let server = env[KUBE_ENV.api];
  if (server) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw failedPrecondition(`${KUBE_ENV.api} (${server}) is not a URL; expected https://host:port`);
    }
    if (url.protocol !== 'https:') throw failedPrecondition(`${KUBE_ENV.api} (${server}) must be an https:// URL`);
    server = url.origin;
  } else {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT;
    if (!host || !port) {
      throw failedPrecondition(`not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (${KUBE_ENV.api} overrides them)`);
    }
    server = `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  }
  return { server, tokenFile: file('tokenFile', 'token'), caFile: file('caFile', 'ca.crt'), namespaceFile: file('namespaceFile', 'namespace') };
}

/** The pod's namespace from the service account directory; FailedPrecondition if absent. */
export function readPodNamespace(settings: KubernetesApiSettings): string {
  let ns: string;
  try {
    ns = readFileSync(settings.namespaceFile, 'utf8').trim();
  } catch (err) {
    throw failedPrecondition(`cannot read the pod's namespace from ${settings.namespaceFile} (${code(err)}); name it in the URL: kubernetes-secret://NAMESPACE/NAME`, { cause: err });
  }
  if (!ns) throw failedPrecondition(`${settings.namespaceFile} is empty; name the namespace in the URL: kubernetes-secret://NAMESPACE/NAME`);
  return ns;
}

/** An HTTP response of the API server; `body` is the parsed JSON, if it was JSON. */
export interface KubernetesResponse {
  status: number;
  body: unknown;
}

/** Responses larger than this are cut off (a Secret is at most 1 MiB). */
const MAX_BODY = 4 << 20;

/**
 * A minimal JSON client of the Kubernetes API over node:https: no dependency, TLS
 * verified against the service account CA, a bearer token read from its file on every
 * request. Returns every HTTP response as it is (the caller knows what a 404 or 409
 * means); throws Unavailable when there is no response (refused, reset, timeout, TLS)
 * and FailedPrecondition when the token or CA file cannot be read.
 */
export class KubernetesApiClient {
  readonly server: string;
  private readonly timeoutMs: number;

  constructor(
    readonly settings: KubernetesApiSettings,
    o: { timeoutMs?: number } = {},
  ) {
    for (const k of ['server', 'tokenFile', 'caFile'] as const) if (!settings?.[k]) throw new Error(`KubernetesApiClient: ${k} is required`);
    this.server = settings.server;
    this.timeoutMs = o.timeoutMs ?? 15_000;
  }

  /** Fails at start-up, rather than at the first renewal, when the token or CA is missing. */
  checkFiles(): void {
    for (const [what, path] of [['service account token', this.settings.tokenFile], ['API server CA', this.settings.caFile]] as const) {
      try {
        readFileSync(path);
      } catch (err) {
        throw failedPrecondition(`cannot read the ${what} ${path} (${code(err)}); the pod needs a service account token (automountServiceAccountToken)`, { cause: err });
      }
    }
  }

  /** Sends one request; `path` is absolute (`/api/v1/…`), `body` is sent as JSON. */
  async request(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<KubernetesResponse> {
    const [token, ca] = await Promise.all([this.read('service account token', this.settings.tokenFile), this.read('API server CA', this.settings.caFile)]);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const url = new URL(path, this.server);
    return await new Promise<KubernetesResponse>((resolve, reject) => {
      const fail = (err: Error) => reject(unavailable(`Kubernetes API server ${this.server} is unavailable: ${describeNetworkError(err)}`, { cause: err }));
      const req = request(
        url,
        {
          method,
          ca,
          agent: false,
          timeout: this.timeoutMs,
          headers: {
            authorization: `Bearer ${token.toString('utf8').trim()}`,
            accept: 'application/json',
            'user-agent': 'mezd',
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY) res.destroy(new Error('response too large'));
            else chunks.push(c);
          });
          res.on('error', fail);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no response within ${this.timeoutMs / 1000}s`)));
      req.on('error', fail);
      req.end(payload);
    });
  }

  private async read(what: string, path: string): Promise<Buffer> {
    try {
      return await readFile(path);
    } catch (err) {
      throw failedPrecondition(`cannot read the ${what} ${path} (${code(err)})`, { cause: err });
    }
  }
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

function describeNetworkError(err: Error): string {
  const c = (err as NodeJS.ErrnoException).code;
  if (c === 'ECONNREFUSED') return 'connection refused';
  if (c === 'ECONNRESET') return 'connection reset';
  if (c && /CERT|SELF_SIGNED|UNABLE_TO|VERIFY|ERR_TLS|ERR_SSL/.test(c)) return `TLS: ${err.message} (is ${KUBE_ENV.caFile} or the service account ca.crt the cluster's CA?)`;
  return err.message;
}
