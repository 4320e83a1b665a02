import { type ErrorCode, isMeziteError } from '@mezite/identity';
import { type Logger, nullLogger } from '@mezite/platform/client';
import type { BotIdentity } from './bot-identity';
import { type Destination, DestinationError, identityArtifacts } from './destination';
import { inClusterSettings, KubernetesApiClient, type KubernetesResponse, readPodNamespace } from './kubernetes-api';

/** The `--destination` scheme: `kubernetes-secret://NAMESPACE/NAME` or `kubernetes-secret:///NAME`. */
export const KUBERNETES_SECRET_SCHEME = 'kubernetes-secret';
/** The label mezd sets on its Secrets, as `kubectl get secrets -l app.kubernetes.io/managed-by=mezd` finds them. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** The RBAC verbs on `secrets` the pod's service account needs. */
export const SECRET_VERBS = ['get', 'create', 'update'] as const;

/** A Secret named by a destination URL; without a namespace, the pod's own. */
export interface KubernetesSecretRef {
  namespace?: string;
  name: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Parses `kubernetes-secret://NAMESPACE/NAME` (or `:///NAME`), checking the names as the
 * API server would (namespace a DNS label, name a DNS subdomain). Throws an Error whose
 * message says what is wrong, for the configuration's problem list.
 */
export function parseKubernetesSecretUrl(url: string): KubernetesSecretRef {
  const m = /^kubernetes-secret:\/\/([^/?#]*)\/([^/?#]+)$/.exec(url);
  if (!m) throw new Error(`--destination ${url} is not kubernetes-secret://NAMESPACE/NAME (or kubernetes-secret:///NAME for the pod's namespace)`);
  const [, namespace = '', name = ''] = m;
  if (namespace && !DNS_LABEL.test(namespace)) throw new Error(`--destination ${url}: "${namespace}" is not a valid namespace (lower-case letters, digits and '-', at most 63)`);
  if (!DNS_SUBDOMAIN.test(name)) throw new Error(`--destination ${url}: "${name}" is not a valid Secret name (lower-case letters, digits, '-' and '.')`);
  return namespace ? { namespace, name } : { name };
}

/** Options of {@link KubernetesSecretDestination}. */
export interface KubernetesSecretDestinationOptions {
  namespace: string;
  name: string;
  client: KubernetesApiClient;
  logger?: Logger;
  /** Rounds of GET then PUT (or POST) when another writer gets in between (409). Default 3. */
  maxAttempts?: number;
}

interface SecretObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string>; managedFields?: unknown; [k: string]: unknown };
  type?: string;
  data?: Record<string, string>;
  [k: string]: unknown;
}

/**
 * Writes `ssh_key`, `ssh_key-cert.pub` and `known_hosts` as the `data` of one Opaque
 * Secret, all three in one request, so a reader never sees a new key with an old
 * certificate (which the directory destination cannot promise). Creates the Secret
 * (POST) when missing; otherwise replaces its data (PUT) conditioned on the
 * `resourceVersion` just read, so a concurrent change is never overwritten blindly: on
 * 409 Conflict it reads again and retries, up to `maxAttempts` rounds, then fails
 * Unavailable for the renewal loop to retry later. The Secret belongs to mezd: other
 * keys in its data are dropped; its labels and annotations are kept.
 */
export class KubernetesSecretDestination implements Destination {
  readonly description: string;
  private readonly path: string;
  private readonly logger: Logger;
  private readonly maxAttempts: number;

  constructor(private readonly o: KubernetesSecretDestinationOptions) {
    for (const k of ['namespace', 'name', 'client'] as const) if (!o[k]) throw new Error(`KubernetesSecretDestination: ${k} is required`);
    this.description = `${KUBERNETES_SECRET_SCHEME}://${o.namespace}/${o.name}`;
    this.path = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/secrets`;
    this.logger = (o.logger ?? nullLogger).child({ destination: this.description });
    this.maxAttempts = o.maxAttempts ?? 3;
  }

  async write(identity: BotIdentity): Promise<void> {
    const data = Object.fromEntries(identityArtifacts(identity).map((a) => [a.name, Buffer.from(a.data, 'utf8').toString('base64')]));
    const item = `${this.path}/${encodeURIComponent(this.o.name)}`;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const got = await this.call('GET', item, undefined);
      if (got.status === 404) {
        const created = await this.call('POST', `${this.path}?fieldManager=mezd`, {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: this.o.name, namespace: this.o.namespace, labels: { [MANAGED_BY_LABEL]: 'mezd' } },
          type: 'Opaque',
          data,
        });
        if (created.status === 200 || created.status === 201) {
          this.logger.info('kubernetes secret created', { resource_version: resourceVersion(created) });
          return;
        }
        if (created.status === 409) continue; // created by someone else meanwhile: read it and update
        if (created.status === 404) throw this.error('FailedPrecondition', `cannot create Secret ${this.o.name}: namespace ${this.o.namespace} does not exist (${statusText(created)})`);
        throw this.failure(created, 'create');
      }
      if (got.status !== 200) throw this.failure(got, 'get');
      const current = (got.body ?? {}) as SecretObject;
      const rv = current.metadata?.resourceVersion;
      if (!rv) throw this.error('Internal', `the Kubernetes API server returned Secret ${this.o.namespace}/${this.o.name} without a resourceVersion`);
      if (current.type !== undefined && current.type !== 'Opaque') {
        throw this.error('FailedPrecondition', `Secret ${this.o.namespace}/${this.o.name} exists with type ${current.type}; mezd writes Opaque Secrets: delete it or choose another name`);
      }
      // Everything else of the Secret is kept; managedFields stay the server's business.
      const metadata = { ...current.metadata };
      delete metadata.managedFields;
      const updated = await this.call('PUT', `${item}?fieldManager=mezd`, {
        ...current,
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { ...metadata, resourceVersion: rv, labels: { ...(metadata.labels ?? {}), [MANAGED_BY_LABEL]: 'mezd' } },
        type: 'Opaque',
        data,
      });
      if (updated.status === 200 || updated.status === 201) {
        this.logger.debug('kubernetes secret updated', { resource_version: resourceVersion(updated), previous_resource_version: rv });
        return;
      }
      // 409: changed since the GET; 404: deleted since. Either way, read again.
      if (updated.status === 409 || updated.status === 404) {
        this.logger.info('kubernetes secret changed while writing it; reading it again', { attempt, status: updated.status });
        continue;
      }
      throw this.failure(updated, 'update');
    }
    throw this.error('Unavailable', `Secret ${this.o.namespace}/${this.o.name} changed under each of ${this.maxAttempts} attempts to write it (409 Conflict): another writer keeps updating it`);
  }

  private call(method: 'GET' | 'POST' | 'PUT', path: string, body: unknown): Promise<KubernetesResponse> {
    return this.o.client.request(method, path, body).catch((err: unknown) => {
      throw this.error(isMeziteError(err) ? err.code : 'Internal', (err as Error).message, err);
    });
  }

  /** Maps a refusal of the API server to the domain error the renewal loop acts on. */
  private failure(res: KubernetesResponse, verb: (typeof SECRET_VERBS)[number]): DestinationError {
    const what = `${verb} Secret ${this.o.namespace}/${this.o.name}`;
    const rbac = `the pod's service account needs ${SECRET_VERBS.join(', ')} on secrets in namespace ${this.o.namespace} (a Role and a RoleBinding)`;
    if (res.status === 401) {
      return this.error('PermissionDenied', `Kubernetes did not accept the service account token in ${this.o.client.settings.tokenFile} to ${what} (${statusText(res)}); ${rbac}`);
    }
    if (res.status === 403) return this.error('PermissionDenied', `Kubernetes refused to ${what} (${statusText(res)}); ${rbac}`);
    if (res.status >= 500 || res.status === 429) return this.error('Unavailable', `Kubernetes API server ${this.o.client.server} could not ${what} (${statusText(res)})`);
    return this.error('FailedPrecondition', `Kubernetes refused to ${what} (${statusText(res)})`);
  }

  private error(code: ErrorCode, message: string, cause?: unknown): DestinationError {
    return new DestinationError(code, message, this.description, cause === undefined ? undefined : { cause });
  }
}

/**
 * The destination of a `kubernetes-secret://` URL inside a pod: the API server, token
 * and CA from the service account ({@link inClusterSettings}; MEZITE_KUBE_* override
 * them), the namespace from the URL or else the pod's. Fails at start-up
 * (FailedPrecondition) outside a pod or without a service account token.
 */
export function kubernetesSecretDestination(ref: KubernetesSecretRef, env: NodeJS.ProcessEnv, logger?: Logger): KubernetesSecretDestination {
  const settings = inClusterSettings(env);
  const client = new KubernetesApiClient(settings);
  client.checkFiles();
  const namespace = ref.namespace ?? readPodNamespace(settings);
  return new KubernetesSecretDestination({ namespace, name: ref.name, client, ...(logger ? { logger } : {}) });
}

function resourceVersion(res: KubernetesResponse): string | undefined {
  return (res.body as SecretObject | undefined)?.metadata?.resourceVersion;
}

/** `403 Forbidden: <the API server's message>`, cut short; the message names no secret data. */
function statusText(res: KubernetesResponse): string {
  const body = res.body as { reason?: unknown; message?: unknown } | undefined;
  const reason = typeof body?.reason === 'string' ? body.reason : undefined;
  const message = typeof body?.message === 'string' ? body.message.slice(0, 300) : undefined;
  return [`${res.status}${reason ? ` ${reason}` : ''}`, message].filter(Boolean).join(': ');
}
