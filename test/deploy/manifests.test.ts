// The Kubernetes manifests in deploy/: every overlay is rendered with kustomize and each
// object validated against the Kubernetes 1.33 schema (k8s-schema.ts), then checked for
// what docs/OPERATIONS.md promises: replicas, hardened pods, gRPC health probes, PDBs,
// the HPA, NetworkPolicies that let only auth-server reach token-service and ssh-ca,
// the migration Job, and configuration and Secrets that match what the services read.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IService } from 'kubernetes-models/v1/Service';
import type { ICertificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
import { EXTERNAL_SECRETS, HEALTH_PORT, METRICS_PORT, OVERLAYS, SECRET_READERS, SERVICES, serviceConfig, type ServiceName } from './contract';
import { KINDS_WITHOUT_SCHEMA, TARGET_KUBERNETES, schemaErrors, unknownFieldErrors } from './k8s-schema';
import { readYamlFile, ref, renderKustomization, repoRoot, type K8sObject } from './kustomize';
import { ingressAllowed, selectorMatches, type PodRef } from './network-policy';

const EXAMPLES = ['deploy/examples/bot.yaml', 'deploy/examples/postgres-cloudnative-pg.yaml'];
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);
const NAME = 'app.kubernetes.io/name';

type OverlayName = keyof typeof OVERLAYS;
const overlayNames = Object.keys(OVERLAYS) as OverlayName[];

/** A workload's pod template as rendered. */
interface Workload {
  o: K8sObject;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  pod: IPodSpec;
  replicas: number | undefined;
}

function workloads(objects: K8sObject[]): Workload[] {
  return objects
    .filter((o) => WORKLOAD_KINDS.has(o.kind))
    .map((o) => {
      const spec = o.spec as { replicas?: number; template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: IPodSpec } };
      return { o, labels: spec.template.metadata?.labels ?? {}, annotations: spec.template.metadata?.annotations ?? {}, pod: spec.template.spec, replicas: o.kind === 'Job' ? undefined : (spec.replicas ?? 1) };
    });
}

function allContainers(pod: IPodSpec): IContainer[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

function serviceWorkload(objects: K8sObject[], name: ServiceName): Workload {
  const w = workloads(objects).find((x) => x.o.kind === 'Deployment' && x.o.metadata.name === name);
  if (!w) throw new Error(`no Deployment ${name}`);
  return w;
}

function mainContainer(w: Workload): IContainer {
  const c = w.pod.containers.find((x) => x.name === w.o.metadata.name) ?? w.pod.containers[0];
  if (!c) throw new Error(`${ref(w.o)} has no container`);
  return c;
}

/** A container's environment as the kubelet builds it: envFrom ConfigMaps of the overlay, then env. */
function environment(objects: K8sObject[], c: IContainer): Map<string, { value?: string; secret?: { name: string; key: string } }> {
  const env = new Map<string, { value?: string; secret?: { name: string; key: string } }>();
  for (const from of c.envFrom ?? []) {
    const name = from.configMapRef?.name;
    if (!name) continue;
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
    if (!cm) throw new Error(`container ${c.name}: envFrom ConfigMap ${name} is not rendered`);
    for (const [k, v] of Object.entries((cm.data ?? {}) as Record<string, string>)) env.set(k, { value: v });
  }
  for (const e of c.env ?? []) {
    const s = e.valueFrom?.secretKeyRef;
    if (s) env.set(e.name, { secret: { name: s.name ?? '', key: s.key } });
    else env.set(e.name, { value: e.value ?? '' });
  }
  return env;
}

function value(env: ReturnType<typeof environment>, name: string): string | undefined {
  return env.get(name)?.value;
}

/** The Secrets and keys a workload reads: env secretKeyRefs, and secret volumes whose files env names. */
function secretsRead(w: Workload): Array<{ name: string; key: string; by: string }> {
  const out: Array<{ name: string; key: string; by: string }> = [];
  const volumes = new Map((w.pod.volumes ?? []).flatMap((v) => (v.secret?.secretName ? [[v.name, v.secret.secretName] as const] : [])));
  for (const c of allContainers(w.pod)) {
    for (const e of c.env ?? []) {
      const s = e.valueFrom?.secretKeyRef;
      if (s) out.push({ name: s.name ?? '', key: s.key, by: `${ref(w.o)} ${c.name} ${e.name}` });
    }
    for (const m of c.volumeMounts ?? []) {
      const secret = volumes.get(m.name);
      if (!secret) continue;
      for (const e of c.env ?? []) {
        if (e.value?.startsWith(`${m.mountPath}/`)) out.push({ name: secret, key: e.value.slice(m.mountPath.length + 1), by: `${ref(w.o)} ${c.name} ${e.name}` });
      }
    }
  }
  return out;
}

/**
 * Every Secret each container can read, by who reads it: the workload's name, or for
 * the migration Job the service its container migrates (named after it). A Secret
 * volume counts for every container that mounts it, used or not; env and envFrom too.
 */
function secretReaders(w: Workload): Array<{ reader: string; secret: string; by: string }> {
  const out: Array<{ reader: string; secret: string; by: string }> = [];
  const volumes = new Map<string, string[]>();
  for (const v of w.pod.volumes ?? []) {
    const names = [...(v.secret?.secretName ? [v.secret.secretName] : []), ...(v.projected?.sources ?? []).flatMap((p) => (p.secret?.name ? [p.secret.name] : []))];
    if (names.length > 0) volumes.set(v.name, names);
  }
  for (const c of allContainers(w.pod)) {
    const reader = w.o.kind === 'Job' ? c.name : w.o.metadata.name;
    const by = `${ref(w.o)} ${c.name}`;
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) out.push({ reader, secret: e.valueFrom.secretKeyRef.name ?? '', by: `${by} ${e.name}` });
    for (const f of c.envFrom ?? []) if (f.secretRef) out.push({ reader, secret: f.secretRef.name ?? '', by: `${by} envFrom` });
    for (const m of c.volumeMounts ?? []) for (const secret of volumes.get(m.name) ?? []) out.push({ reader, secret, by: `${by} volume ${m.name}` });
  }
  return out;
}

/** What a pod of workload `name` looks like to the NetworkPolicies. */
function podOf(objects: K8sObject[], namespace: string, name: string): PodRef {
  const w = workloads(objects).find((x) => x.o.metadata.name === name);
  if (!w) throw new Error(`no workload ${name}`);
  return { namespace, labels: w.labels };
}

describe('deploy/ manifests', () => {
  const rendered = Object.fromEntries(overlayNames.map((n) => [n, renderKustomization(OVERLAYS[n].dir)])) as Record<OverlayName, K8sObject[]>;
  const examples = EXAMPLES.flatMap((f) => readYamlFile(f));

  test('the base renders on its own (no namespace, images or Secrets of its own)', () => {
    const base = renderKustomization('deploy/base');
    expect(base.filter((o) => o.kind === 'Namespace' || o.kind === 'Secret')).toEqual([]);
    expect(base.every((o) => o.metadata.namespace === undefined)).toBe(true);
  });

  // Copies with mistakes the API server refuses: the validators must say so (a guard
  // against a validator that checks nothing).
  const broken = (() => {
    const deployment = structuredClone(rendered.production.find((o) => o.kind === 'Deployment')) as K8sObject & { spec: { replicas: unknown; template: { spec: { containers: Array<Record<string, unknown>> } } } };
    deployment.metadata.name = 'broken';
    deployment.spec.replicas = 'two';
    deployment.spec.template.spec.containers[0]!.readinesProbe = { grpc: { port: HEALTH_PORT } };
    const certificate = structuredClone(rendered.production.find((o) => o.kind === 'Certificate')) as K8sObject & { spec: { privateKey: { algorithm: string } } };
    certificate.metadata.name = 'broken';
    certificate.spec.privateKey.algorithm = 'DSA';
    return [deployment, certificate];
  })();
  const all = [...rendered.dev, ...rendered.production, ...examples];
  // One TypeScript program for every object (a few seconds).
  const strictErrors = unknownFieldErrors([...all, ...broken]);

  test(`every object validates against the Kubernetes ${TARGET_KUBERNETES} schema`, () => {
    expect(schemaErrors(all)).toEqual([]);
    // Only other operators' CRDs go unchecked, and only in the examples.
    const unchecked = all.filter((o) => KINDS_WITHOUT_SCHEMA.has(`${o.apiVersion} ${o.kind}`)).map(ref);
    expect(unchecked.sort()).toEqual(['Cluster/mezite-db', 'ScheduledBackup/mezite-db-daily']);
  });

  test('no object has a field the schema does not know (strict validation)', () => {
    expect(strictErrors.filter((e) => !e.includes('/broken: '))).toEqual([]);
  });

  test('the validators refuse what the API server would', () => {
    expect(schemaErrors(broken)).toEqual(['Deployment/broken: /spec/replicas must be integer', 'Certificate/broken: /spec/privateKey/algorithm must be equal to one of the allowed values']);
    expect(strictErrors.some((e) => e.startsWith('Deployment/broken: ') && e.includes('readinesProbe'))).toBe(true);
    expect(strictErrors.some((e) => e.startsWith('Certificate/broken: ') && e.includes('DSA'))).toBe(true);
  });

  describe.each(overlayNames)('overlay %s', (overlay) => {
    const objects = rendered[overlay];
    const { namespace } = OVERLAYS[overlay];

    test('everything lives in one namespace that enforces the restricted Pod Security profile', () => {
      const ns = objects.filter((o) => o.kind === 'Namespace');
      expect(ns.map((o) => o.metadata.name)).toEqual([namespace]);
      expect(ns[0]?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
      expect(objects.filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== namespace).map(ref)).toEqual([]);
    });

    test.each(SERVICES.map((s) => s.name))('%s runs at least 2 replicas, spread over nodes, with a PodDisruptionBudget', (name) => {
      const w = serviceWorkload(objects, name);
      expect(w.replicas).toBeGreaterThanOrEqual(2);
      expect(w.pod.topologySpreadConstraints?.some((t) => t.topologyKey === 'kubernetes.io/hostname' && selectorMatches(t.labelSelector as never, w.labels))).toBe(true);
      const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o as unknown as IPodDisruptionBudget & K8sObject);
      const pdb = pdbs.filter((p) => selectorMatches(p.spec?.selector as never, w.labels));
      expect(pdb).toHaveLength(1);
      const spec = pdb[0]?.spec ?? {};
      // With 2 replicas one may go, never both.
      if (spec.maxUnavailable !== undefined) expect(spec.maxUnavailable).toBe(1);
      else expect(spec.minAvailable).toBe(1);
    });

    test('every pod runs as non-root, without privilege escalation or capabilities, on a read-only root filesystem', () => {
      const problems: string[] = [];
      for (const w of workloads(objects)) {
        const pod = w.pod.securityContext ?? {};
        if (w.pod.hostNetwork || w.pod.hostPID || w.pod.hostIPC) problems.push(`${ref(w.o)}: host namespaces`);
        for (const c of allContainers(w.pod)) {
          const sc = c.securityContext ?? {};
          const where = `${ref(w.o)} ${c.name}`;
          if (!(sc.runAsNonRoot ?? pod.runAsNonRoot)) problems.push(`${where}: runAsNonRoot is not true`);
          if ((sc.runAsUser ?? pod.runAsUser ?? 0) === 0) problems.push(`${where}: no non-zero runAsUser`);
          if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
          if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
          if (sc.privileged) problems.push(`${where}: privileged`);
          if (!(sc.capabilities?.drop ?? []).includes('ALL') || (sc.capabilities?.add ?? []).length > 0) problems.push(`${where}: capabilities not dropped`);
          if ((sc.seccompProfile ?? pod.seccompProfile)?.type !== 'RuntimeDefault') problems.push(`${where}: seccompProfile is not RuntimeDefault`);
          if (!c.resources?.requests?.memory || !c.resources.limits?.memory) problems.push(`${where}: no memory request and limit`);
        }
        if (w.pod.automountServiceAccountToken !== false) problems.push(`${ref(w.o)}: mounts a service account token`);
      }
      expect(problems).toEqual([]);
    });

    test.each(SERVICES)('$name is probed through grpc.health.v1 and serves /metrics', ({ name, grpcPort }) => {
      const w = serviceWorkload(objects, name);
      const c = mainContainer(w);
      const env = environment(objects, c);
      expect(value(env, 'MEZITE_HEALTH_ADDR')).toBe(`0.0.0.0:${HEALTH_PORT}`);
      expect(value(env, 'MEZITE_METRICS_ADDR')).toBe(`0.0.0.0:${METRICS_PORT}`);
      expect(value(env, `MEZITE_${name.toUpperCase().replace(/-/g, '_')}_ADDR`)).toBe(`0.0.0.0:${grpcPort}`);
      for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
        expect(probe?.grpc?.port).toBe(HEALTH_PORT);
        expect(probe?.grpc?.service ?? '').toBe('');
      }
      const ports = Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]));
      expect(ports).toMatchObject({ grpc: grpcPort, health: HEALTH_PORT, metrics: METRICS_PORT });
      expect(w.annotations['prometheus.io/port']).toBe(String(METRICS_PORT));
      expect(c.image).toMatch(new RegExp(`(^|/)${name}(:|@)`));
    });

    test.each(SERVICES.map((s) => s.name))('%s gets every key its configuration requires and no unknown MEZITE_* key', (name) => {
      const w = serviceWorkload(objects, name);
      const env = environment(objects, mainContainer(w));
      const { known, required } = serviceConfig(name);
      if (name === 'token-service' && (w.replicas ?? 1) > 1) required.add('REDIS_URL'); // the in-memory cache is per replica
      if (name === 'auth-server' && (w.replicas ?? 1) > 1) required.add('REDIS_URL'); // failure limits are per replica without it
      expect([...required].filter((k) => !env.has(k))).toEqual([]);
      expect([...env.keys()].filter((k) => k.startsWith('MEZITE_') && !known.has(k))).toEqual([]);
      expect([...env.keys()].filter((k) => !/^(MEZITE_|OTEL_)/.test(k) && !['DATABASE_URL', 'REDIS_URL'].includes(k))).toEqual([]);
      for (const [k, v] of env) if (v.value !== undefined && /_ADDR$|_TARGET$/.test(k)) expect(`${k}=${v.value}`).toMatch(/=[^:\s]+:\d{1,5}$/);
      const tenants = value(env, 'MEZITE_TENANTS');
      if (tenants !== undefined) expect(Array.isArray(JSON.parse(tenants))).toBe(true);
    });

    test("the demo fixtures (seed 000's published client secret) are off, but in the dev overlay, which says it listens beyond loopback", () => {
      const env = environment(objects, mainContainer(serviceWorkload(objects, 'auth-server')));
      const listens = [value(env, 'MEZITE_AUTH_SERVER_ADDR'), value(env, 'MEZITE_HTTP_ADDR')];
      expect(listens.every((a) => a?.startsWith('0.0.0.0:'))).toBe(true);
      const fixtures = [value(env, 'MEZITE_DEMO_FIXTURES'), value(env, 'MEZITE_DEMO_FIXTURES_ON_NETWORK')];
      expect(fixtures).toEqual(overlay === 'dev' ? ['true', 'true'] : [undefined, undefined]);
    });

    test('auth-server finds token-service and ssh-ca through their Services, on the ports they listen on', () => {
      const env = environment(objects, mainContainer(serviceWorkload(objects, 'auth-server')));
      for (const [variable, name] of [['MEZITE_TOKEN_SERVICE_TARGET', 'token-service'], ['MEZITE_SSH_CA_TARGET', 'ssh-ca']] as const) {
        const [host, port] = (value(env, variable) ?? '').split(':');
        // The host is the Service, and the TLS name the client asks for (ssl_target_name_override).
        expect(host).toBe(name);
        const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === host) as (IService & K8sObject) | undefined;
        const target = serviceWorkload(objects, name);
        expect(selectorMatches({ matchLabels: svc?.spec?.selector ?? { none: 'none' } }, target.labels)).toBe(true);
        const svcPort = svc?.spec?.ports?.find((p) => p.port === Number(port));
        const containerPort = mainContainer(target).ports?.find((p) => p.name === svcPort?.targetPort || p.containerPort === svcPort?.targetPort);
        expect(`${name}:${containerPort?.containerPort}`).toBe(`${name}:${port}`);
      }
    });

    test('every Service selects pods and names ports they have', () => {
      for (const svc of objects.filter((o) => o.kind === 'Service') as Array<IService & K8sObject>) {
        const selected = workloads(objects).filter((w) => selectorMatches({ matchLabels: svc.spec?.selector ?? {} }, w.labels));
        expect(`${ref(svc)}: ${selected.length > 0}`).toBe(`${ref(svc)}: true`);
        for (const p of svc.spec?.ports ?? []) {
          const ok = selected.every((w) => allContainers(w.pod).some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort || cp.containerPort === (p.targetPort ?? p.port))));
          expect(`${ref(svc)} ${p.name}: ${ok}`).toBe(`${ref(svc)} ${p.name}: true`);
        }
      }
    });

    test('the auth-server scales with a HorizontalPodAutoscaler on CPU', () => {
      const hpas = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler') as Array<IHorizontalPodAutoscaler & K8sObject>;
      expect(hpas).toHaveLength(1);
      const spec = hpas[0]!.spec!;
      expect(spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'auth-server' });
      expect(spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(spec.maxReplicas).toBeGreaterThan(spec.minReplicas ?? 1);
      expect(spec.metrics?.some((m) => m.resource?.name === 'cpu' && m.resource.target.type === 'Utilization')).toBe(true);
      const w = serviceWorkload(objects, 'auth-server');
      expect(mainContainer(w).resources?.requests?.cpu).toBeDefined(); // utilization is relative to the request
      expect(w.replicas).toBeGreaterThanOrEqual(spec.minReplicas ?? 1);
    });

    test('NetworkPolicies let only auth-server reach token-service and ssh-ca', () => {
      const auth = podOf(objects, namespace, 'auth-server');
      const others: Array<[string, PodRef]> = [
        ['token-service', podOf(objects, namespace, 'token-service')],
        ['ssh-ca', podOf(objects, namespace, 'ssh-ca')],
        ['mezite-migrate', podOf(objects, namespace, 'mezite-migrate')],
        ['a stranger in the namespace', { namespace, labels: { [NAME]: 'debug' } }],
        ['a pod of another namespace', { namespace: 'default', labels: { [NAME]: 'auth-server' } }],
      ];
      const monitoring: PodRef = { namespace: 'monitoring', labels: { [NAME]: 'prometheus' } };
      for (const { name, grpcPort } of SERVICES.filter((s) => s.name !== 'auth-server')) {
        const target = serviceWorkload(objects, name).labels;
        expect(ingressAllowed(objects, namespace, target, grpcPort, auth)).toBe(true);
        for (const port of [grpcPort, HEALTH_PORT, METRICS_PORT, 22, 5432]) {
          const open = others.filter(([, src]) => ingressAllowed(objects, namespace, target, port, src)).map(([who]) => `${who} → ${name}:${port}`);
          expect(open).toEqual([]);
          // auth-server itself reaches nothing but the gRPC port.
          if (port !== grpcPort) expect(ingressAllowed(objects, namespace, target, port, auth)).toBe(false);
          // Prometheus scrapes /metrics and nothing else.
          expect(ingressAllowed(objects, namespace, target, port, monitoring)).toBe(port === METRICS_PORT);
        }
      }
      // The public entry point is open on its two ports, and only there.
      const authTarget = serviceWorkload(objects, 'auth-server').labels;
      const outsider: PodRef = { namespace: 'ingress-nginx', labels: { [NAME]: 'ingress-nginx' } };
      expect([3025, 8080].map((p) => ingressAllowed(objects, namespace, authTarget, p, outsider))).toEqual([true, true]);
      expect([HEALTH_PORT, METRICS_PORT].map((p) => ingressAllowed(objects, namespace, authTarget, p, outsider))).toEqual([false, false]);
      // Every pod of the namespace is isolated for ingress.
      const open = workloads(objects).filter((w) => ingressAllowed(objects, namespace, w.labels, 1, outsider)).map((w) => ref(w.o));
      expect(open).toEqual([]);
    });

    test('token-service, ssh-ca and the migration Job may only reach DNS, PostgreSQL, Redis and an OTLP collector', () => {
      const allowedPorts: Record<string, number[]> = { 'token-service': [53, 5432, 6379, 4317, 4318], 'ssh-ca': [53, 5432, 4317, 4318], 'mezite-migrate': [53, 5432] };
      for (const [name, expected] of Object.entries(allowedPorts)) {
        const labels = podOf(objects, namespace, name).labels;
        const policies = objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.spec as { podSelector: never; policyTypes?: string[]; egress?: Array<{ to?: unknown[]; ports?: Array<{ port?: number }> }> });
        const egress = policies.filter((p) => (p.policyTypes ?? []).includes('Egress') && selectorMatches(p.podSelector, labels));
        expect(`${name}: ${egress.length}`).toBe(`${name}: 1`);
        const ports = [...new Set(egress.flatMap((p) => (p.egress ?? []).flatMap((r) => (r.ports ?? []).map((x) => x.port))))];
        expect(ports.sort()).toEqual([...expected].sort());
      }
    });

    test('a migration Job applies each service migrations from that service image', () => {
      const jobs = objects.filter((o) => o.kind === 'Job') as Array<IJob & K8sObject>;
      expect(jobs.map((j) => j.metadata.name)).toEqual(['mezite-migrate']);
      const job = jobs[0]!;
      const pod = job.spec!.template.spec!;
      expect(['Never', 'OnFailure']).toContain(pod.restartPolicy);
      expect(job.spec!.backoffLimit).toBeGreaterThan(0);
      expect(job.spec!.activeDeadlineSeconds).toBeGreaterThan(0);
      const script = 'deploy/docker/mezite-migrate.cjs';
      expect(existsSync(join(repoRoot, script))).toBe(true);
      const migrated = allContainers(pod).map((c) => {
        const service = (c.command ?? []).at(-1) as ServiceName;
        expect(c.command).toEqual(['node', script, service]);
        const deployment = mainContainer(serviceWorkload(objects, service));
        expect(c.image).toBe(deployment.image);
        // The same database as the service.
        const env = environment(objects, c);
        expect(env.get('DATABASE_URL')).toEqual(environment(objects, deployment).get('DATABASE_URL'));
        return service;
      });
      expect(migrated.sort()).toEqual(SERVICES.map((s) => s.name).sort());
    });

    test("no workload reads another service's Secret: each service only its own database role, keys and certificate", () => {
      // A Secret of a secretGenerator is renamed with a content hash (mezite-redis-ctmkb6279m).
      const base = (name: string) => (SECRET_READERS[name] ? name : name.replace(/-[a-z0-9]{10}$/, ''));
      const reads = workloads(objects).flatMap(secretReaders).map((r) => ({ ...r, secret: base(r.secret) }));
      expect(reads.length).toBeGreaterThan(10);
      expect(reads.filter((r) => !(SECRET_READERS[r.secret] ?? []).includes(r.reader)).map((r) => `${r.by}: ${r.secret}`)).toEqual([]);
      // Each service does read its own database URL (not a shared one), in its Deployment and in the Job.
      for (const { name } of SERVICES) {
        const own = Object.keys(SECRET_READERS).filter((s) => s.startsWith('mezite-database') && SECRET_READERS[s]?.includes(name));
        expect(own).toHaveLength(1);
        expect(reads.filter((r) => r.secret === own[0]).map((r) => r.by.split(' ')[0]).sort()).toEqual([`Deployment/${name}`, 'Job/mezite-migrate'].sort());
      }
    });

    test('every Secret a pod reads exists in the overlay, comes from cert-manager, or is one the docs say to create', () => {
      const provided = new Map<string, Set<string>>();
      const provide = (name: string, keys: Iterable<string>) => provided.set(name, new Set([...(provided.get(name) ?? []), ...keys]));
      for (const s of objects.filter((o) => o.kind === 'Secret')) provide(s.metadata.name, Object.keys({ ...(s.data as object), ...(s.stringData as object) }));
      for (const c of objects.filter((o) => o.kind === 'Certificate') as Array<ICertificate & K8sObject>) provide(c.spec.secretName, ['ca.crt', 'tls.crt', 'tls.key']);
      const external = EXTERNAL_SECRETS[overlay];
      for (const [name, keys] of Object.entries(external)) provide(name, keys);
      const missing = workloads(objects).flatMap((w) => secretsRead(w)).filter((s) => !provided.get(s.name)?.has(s.key)).map((s) => `${s.by}: ${s.name}/${s.key}`);
      expect(missing).toEqual([]);
      // What the overlay does not make, the operations guide tells how to make.
      const guide = readFileSync(join(repoRoot, 'docs', 'OPERATIONS.md'), 'utf8');
      expect(Object.keys(external).filter((name) => !guide.includes(name))).toEqual([]);
      // And nothing external is also rendered (one source of truth per Secret).
      expect(objects.filter((o) => o.kind === 'Secret' && Object.hasOwn(external, o.metadata.name)).map(ref)).toEqual([]);
    });
  });

  describe('production overlay', () => {
    const objects = rendered.production;
    const { namespace } = OVERLAYS.production;
    const authEnv = environment(objects, mainContainer(serviceWorkload(objects, 'auth-server')));

    test('images come from a registry, pinned to a version or digest', () => {
      const images = workloads(objects).flatMap((w) => allContainers(w.pod).map((c) => c.image ?? ''));
      expect(images.filter((i) => !/^[a-z0-9.-]+\.[a-z]+(:\d+)?\/.+(:(?!latest$)[\w.-]+|@sha256:[0-9a-f]{64})$/.test(i))).toEqual([]);
    });

    test('cert-manager issues each service certificate from the internal CA, with the names clients dial', () => {
      const certs = objects.filter((o) => o.kind === 'Certificate') as Array<ICertificate & K8sObject>;
      const ca = certs.find((c) => c.spec.isCA);
      expect(ca?.spec.privateKey?.rotationPolicy).toBe('Never'); // clients pin the CA's key
      const issuer = objects.find((o) => o.kind === 'Issuer' && (o.spec as { ca?: { secretName?: string } }).ca?.secretName === ca?.spec.secretName);
      expect(issuer).toBeDefined();
      const publicHost = (value(authEnv, 'MEZITE_PUBLIC_ADDR') ?? '').split(':')[0];
      for (const { name } of SERVICES) {
        const cert = certs.find((c) => c.spec.secretName === `${name}-tls`);
        expect(cert?.spec.issuerRef.name).toBe(issuer?.metadata.name);
        expect(cert?.spec.dnsNames).toEqual(expect.arrayContaining([name, `${name}.${namespace}.svc`, 'localhost']));
        expect(cert?.spec.usages).toEqual(expect.arrayContaining(['server auth', 'client auth']));
        expect(cert?.spec.privateKey).toMatchObject({ algorithm: 'ECDSA', encoding: 'PKCS8' });
        // Only the auth-server answers to the public name (clients trust the whole internal CA).
        expect(cert?.spec.dnsNames?.includes(publicHost ?? '')).toBe(name === 'auth-server');
      }
    });

    test('the public ports: gRPC passed through with client addresses kept, HTTP behind TLS at the issuer URL', () => {
      const lb = objects.find((o) => o.kind === 'Service' && (o.spec as { type?: string }).type === 'LoadBalancer') as (IService & K8sObject) | undefined;
      expect(lb?.spec?.externalTrafficPolicy).toBe('Local');
      expect(lb?.spec?.ports?.map((p) => p.port)).toEqual([3025]);
      const [host, port] = (value(authEnv, 'MEZITE_PUBLIC_ADDR') ?? '').split(':');
      expect(port).toBe('3025');
      expect(lb?.metadata.annotations?.['external-dns.alpha.kubernetes.io/hostname']).toBe(host);
      const issuer = new URL(value(authEnv, 'MEZITE_ISSUER') ?? 'http://unset');
      expect(issuer.protocol).toBe('https:');
      const ingress = objects.find((o) => o.kind === 'Ingress') as { spec: { rules: Array<{ host: string }>; tls: Array<{ hosts: string[] }> } } | undefined;
      expect(ingress?.spec.rules.map((r) => r.host)).toEqual([issuer.hostname]);
      expect(ingress?.spec.tls.flatMap((t) => t.hosts)).toEqual([issuer.hostname]);
    });
  });

  test('the examples: a CloudNativePG cluster and a bot that runs mezd from the CLI image', () => {
    const cluster = examples.find((o) => o.kind === 'Cluster') as { spec: { instances: number; bootstrap: { initdb: { database: string; owner: string } } } } & K8sObject;
    expect(cluster.spec.instances).toBeGreaterThanOrEqual(2);
    // make-secrets' doc and OPERATIONS.md read the app Secret CloudNativePG names <cluster>-app.
    const guide = readFileSync(join(repoRoot, 'docs', 'OPERATIONS.md'), 'utf8');
    expect(guide).toContain(`${cluster.metadata.name}-app`);
    const bot = workloads(examples).find((w) => w.o.metadata.name === 'demo-bot');
    expect(bot?.replicas).toBe(1); // two copies of identity.json lock the bot
    expect(bot?.pod.containers[0]?.command).toEqual(['mezd']);
    expect(bot?.pod.containers[0]?.image).toMatch(/(^|\/)cli:/);
  });

  test('the dashboard shows only metrics the services export', () => {
    const dashboard = readFileSync(join(repoRoot, 'deploy', 'monitoring', 'grafana-dashboard.json'), 'utf8');
    const exported = readFileSync(join(repoRoot, 'packages', 'platform', 'src', 'metrics', 'metrics.ts'), 'utf8');
    const used = [...new Set([...dashboard.matchAll(/\b(mezite_[a-z0-9_]+)/g)].map((m) => (m[1] as string).replace(/_(bucket|count|sum)$/, '')))];
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((m) => !exported.includes(`'${m}'`))).toEqual([]);
    const panels = (JSON.parse(dashboard) as { panels: Array<{ type: string; targets?: Array<{ expr: string }> }> }).panels.filter((p) => p.type !== 'row');
    expect(panels.every((p) => (p.targets ?? []).length > 0)).toBe(true);
  });
});
