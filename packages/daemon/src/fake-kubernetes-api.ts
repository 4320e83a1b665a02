import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ensureInternalPki } from '@mezite/platform';

/** A Secret as the fake stores it. */
export interface FakeSecret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace: string; resourceVersion: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  type: string;
  data: Record<string, string>;
}

/** One request the fake answered. */
export interface FakeKubeRequest {
  method: string;
  path: string;
  token: string | undefined;
  status: number;
  /** The `metadata.resourceVersion` a PUT carried. */
  resourceVersion?: string | undefined;
}

/**
 * Test support: the part of the Kubernetes API `kubernetes-secret://` uses — GET, POST
 * and PUT of `/api/v1/namespaces/{ns}/secrets[/{name}]` — over HTTPS on 127.0.0.1 with a
 * certificate from `ensureInternalPki`, bearer-token authentication (401), a per-verb
 * RBAC switch (403 with the API server's wording), and optimistic concurrency as the
 * API server does it: a PUT whose resourceVersion is not the stored one gets 409
 * Conflict, a POST of an existing name 409 AlreadyExists. Errors are `kind: Status`.
 */
export class FakeKubernetesApi {
  /** The tokens accepted; anything else is 401. */
  readonly tokens = new Set<string>();
  /** Verbs on secrets the token may use (RBAC); others get 403. */
  allowedVerbs = new Set(['get', 'create', 'update']);
  readonly namespaces = new Set(['default']);
  readonly secrets = new Map<string, FakeSecret>();
  readonly requests: FakeKubeRequest[] = [];
  /** Statuses to answer the next requests with (e.g. 503), before anything else. */
  readonly failNext: number[] = [];
  /** Called after each GET is answered: lets a test change the Secret in between. */
  afterGet: ((ns: string, name: string) => void) | undefined;
  private version = 100;

  private constructor(
    private readonly server: Server,
    /** `https://127.0.0.1:<port>`. */
    readonly url: string,
    readonly caCertPem: string,
  ) {}

  /** Starts on 127.0.0.1:0; the PKI goes in `dir`. */
  static async start(o: { dir: string }): Promise<FakeKubernetesApi> {
    const pki = await ensureInternalPki({ dir: o.dir, names: ['kubernetes'] });
    const leaf = pki.leaf('kubernetes');
    let fake: FakeKubernetesApi | undefined;
    const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => (fake as FakeKubernetesApi).handle(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake = new FakeKubernetesApi(server, `https://127.0.0.1:${(server.address() as AddressInfo).port}`, pki.caCertPem);
    return fake;
  }

  /** Stops listening and drops open connections. */
  async stop(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Another writer updates the Secret: new data, new resourceVersion. */
  modify(ns: string, name: string, data: Record<string, string> = { other: Buffer.from('x').toString('base64') }): void {
    const s = this.secrets.get(`${ns}/${name}`);
    if (!s) throw new Error(`no secret ${ns}/${name}`);
    s.data = data;
    s.metadata.resourceVersion = String(++this.version);
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', 'https://fake');
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const record: FakeKubeRequest = { method: req.method ?? '', path: url.pathname, token, status: 0 };
    this.requests.push(record);
    const reply = (status: number, obj: unknown) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(obj));
    };
    const fail = (status: number, reason: string, message: string) => reply(status, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code: status });

    const injected = this.failNext.shift();
    if (injected !== undefined) return fail(injected, 'InternalError', 'injected failure');
    if (token === undefined || !this.tokens.has(token)) return fail(401, 'Unauthorized', 'Unauthorized');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(url.pathname);
    const verb = ({ GET: 'get', POST: 'create', PUT: 'update' } as Record<string, string>)[req.method ?? ''];
    if (!m || !verb || (verb === 'create') !== (m[2] === undefined)) return fail(404, 'NotFound', 'the server could not find the requested resource');
    const ns = m[1] as string;
    if (!this.allowedVerbs.has(verb)) {
      return fail(403, 'Forbidden', `secrets${m[2] ? ` "${m[2]}"` : ''} is forbidden: User "system:serviceaccount:${ns}:mezd" cannot ${verb} resource "secrets" in API group "" in the namespace "${ns}"`);
    }
    if (!this.namespaces.has(ns)) return fail(404, 'NotFound', `namespaces "${ns}" not found`);

    if (verb === 'get') {
      const s = this.secrets.get(`${ns}/${m[2]}`);
      if (!s) return fail(404, 'NotFound', `secrets "${m[2]}" not found`);
      reply(200, s);
      this.afterGet?.(ns, m[2] as string);
      return;
    }
    if (req.headers['content-type'] !== 'application/json') return fail(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format');
    let obj: Partial<FakeSecret> & { metadata?: Partial<FakeSecret['metadata']> };
    try {
      obj = JSON.parse(body) as typeof obj;
    } catch {
      return fail(400, 'BadRequest', 'the request body is not JSON');
    }
    const name = obj.metadata?.name;
    const data = obj.data ?? {};
    if (obj.kind !== 'Secret' || obj.apiVersion !== 'v1' || !name || Object.values(data).some((v) => typeof v !== 'string' || Buffer.from(v, 'base64').toString('base64') !== v)) {
      return fail(422, 'Invalid', 'Secret is invalid');
    }
    const key = `${ns}/${name}`;
    const existing = this.secrets.get(key);
    const store = (uid: string) => {
      const s: FakeSecret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: ns, resourceVersion: String(++this.version), uid, ...(obj.metadata?.labels ? { labels: obj.metadata.labels } : {}), ...(obj.metadata?.annotations ? { annotations: obj.metadata.annotations } : {}) },
        type: obj.type ?? 'Opaque',
        data,
      };
      this.secrets.set(key, s);
      return s;
    };
    if (verb === 'create') {
      if (existing) return fail(409, 'AlreadyExists', `secrets "${name}" already exists`);
      return reply(201, store(randomUUID()));
    }
    record.resourceVersion = obj.metadata?.resourceVersion;
    if (name !== m[2]) return fail(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    if (!existing) return fail(404, 'NotFound', `secrets "${name}" not found`);
    if (obj.type !== existing.type) return fail(422, 'Invalid', `Secret "${name}" is invalid: type: Invalid value: "${obj.type}": field is immutable`);
    // The real server would overwrite unconditionally; the fake insists, so tests prove mezd sends it.
    if (!obj.metadata?.resourceVersion) return fail(422, 'Invalid', 'fake: an update without metadata.resourceVersion');
    if (obj.metadata.resourceVersion !== existing.metadata.resourceVersion) {
      return fail(409, 'Conflict', `Operation cannot be fulfilled on secrets "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    reply(200, store(existing.metadata.uid));
  }
}
