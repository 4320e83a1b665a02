import { DEFAULT_SSH_EXTENSIONS, formatDuration } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import { Document, Scalar } from 'yaml';

/** The `node_labels` of a role side as written in YAML: label → values. */
type Labels = Record<string, string[]>;

/** A role side (allow or deny) as written in YAML; empty parts are left out. */
interface Side {
  node_labels?: Labels;
  logins?: string[];
}

/** A role as a document in seed 002's format (`kind: role`, metadata, spec). */
export interface RoleDocument {
  kind: 'role';
  metadata: { name: string; description?: string };
  spec: {
    options: { max_session_ttl: string; ssh_extensions?: string[] };
    allow?: Side;
    deny?: Side;
  };
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

function side(c: authv1.RoleConditions | undefined): Side | undefined {
  if (!c) return undefined;
  const labels = Object.entries(c.nodeLabels);
  const out: Side = {};
  if (labels.length > 0) out.node_labels = Object.fromEntries(labels.map(([k, v]) => [k, v.values]));
  if (c.logins.length > 0) out.logins = c.logins;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The role as the document that would create it, in the order seed 002 writes it.
 * It parses back with `create -f` to the same role: the TTL is written in the units
 * `parseDuration` reads, and `ssh_extensions` only when they differ from the default
 * (so a role written without them shows without them).
 */
export function roleDocument(r: authv1.Role): RoleDocument {
  const allow = side(r.allow);
  const deny = side(r.deny);
  return {
    kind: 'role',
    metadata: { name: r.name, ...(r.description ? { description: r.description } : {}) },
    spec: {
      options: {
        max_session_ttl: formatDuration(r.maxSessionTtlSeconds * 1000),
        ...(sameSet(r.sshExtensions, DEFAULT_SSH_EXTENSIONS) ? {} : { ssh_extensions: r.sshExtensions }),
      },
      ...(allow ? { allow } : {}),
      ...(deny ? { deny } : {}),
    },
  };
}

/** The role as YAML, exactly as seed 002 writes it (description double-quoted, lists indented). */
export function roleYaml(r: authv1.Role): string {
  const doc = new Document(roleDocument(r));
  const description = doc.getIn(['metadata', 'description'], true);
  if (description instanceof Scalar) description.type = Scalar.QUOTE_DOUBLE;
  return doc.toString({ indentSeq: true, lineWidth: 0 });
}
