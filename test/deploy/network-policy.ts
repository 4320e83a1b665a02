import type { K8sObject } from './kustomize';

/** A label selector as NetworkPolicy uses it. */
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: unknown;
}

interface PolicyPort {
  port?: number | string;
  endPort?: number;
  protocol?: string;
}

interface NetworkPolicySpec {
  podSelector: LabelSelector;
  policyTypes?: string[];
  ingress?: Array<{ from?: PolicyPeer[]; ports?: PolicyPort[] }>;
}

/** A pod as the policies see it: its labels and its namespace's labels. */
export interface PodRef {
  namespace: string;
  labels: Record<string, string>;
}

/** Whether `labels` match `selector` (an empty selector matches everything). */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const inValues = value !== undefined && (e.values ?? []).includes(value);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** The labels Kubernetes gives every namespace. */
function namespaceLabels(ns: string): Record<string, string> {
  return { 'kubernetes.io/metadata.name': ns };
}

function peerMatches(peer: PolicyPeer, policyNamespace: string, source: PodRef): boolean {
  if (peer.ipBlock) return false; // pod traffic in these tests never matches an ipBlock
  if (peer.namespaceSelector) {
    if (!selectorMatches(peer.namespaceSelector, namespaceLabels(source.namespace))) return false;
    return peer.podSelector ? selectorMatches(peer.podSelector, source.labels) : true;
  }
  // podSelector alone: pods of the policy's own namespace.
  return source.namespace === policyNamespace && selectorMatches(peer.podSelector, source.labels);
}

function portMatches(ports: PolicyPort[] | undefined, port: number, namedPorts: Record<string, number>): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== 'TCP') return false;
    if (p.port === undefined) return true;
    const n = typeof p.port === 'number' ? p.port : namedPorts[p.port];
    if (n === undefined) return false;
    return p.endPort ? port >= n && port <= p.endPort : port === n;
  });
}

/**
 * Whether the NetworkPolicies among `objects` (all in `namespace`) let `source` open a
 * TCP connection to `port` of a pod labelled `target` in `namespace`: allowed when no
 * ingress policy selects the target, otherwise when some rule of a selecting policy
 * matches both the source and the port (the API's semantics; kubelet probes aside).
 */
export function ingressAllowed(objects: K8sObject[], namespace: string, target: Record<string, string>, port: number, source: PodRef, namedPorts: Record<string, number> = {}): boolean {
  const selecting = objects
    .filter((o) => o.kind === 'NetworkPolicy')
    .map((o) => ({ ns: o.metadata.namespace ?? namespace, spec: o.spec as NetworkPolicySpec }))
    .filter(({ ns, spec }) => ns === namespace && (spec.policyTypes ?? ['Ingress']).includes('Ingress') && selectorMatches(spec.podSelector, target));
  if (selecting.length === 0) return true;
  return selecting.some(({ ns, spec }) =>
    (spec.ingress ?? []).some((rule) => (!rule.from || rule.from.length === 0 || rule.from.some((peer) => peerMatches(peer, ns, source))) && portMatches(rule.ports, port, namedPorts)),
  );
}
