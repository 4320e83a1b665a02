import { labelsMatch, type LabelSelector, type RoleGrant } from './role';

/** A role as the explanation names it: its name and what it allows and denies. */
export type NamedGrant = RoleGrant & { name: string };

/** What one role says about one login on one node. */
export interface RoleVerdict {
  role: string;
  /** `allow.node_labels` selects the node. */
  allowSelectsNode: boolean;
  /** `deny.node_labels` selects the node (then no login is allowed there). */
  denySelectsNode: boolean;
  /** `allow.logins` names the login (`*` is not a wildcard for logins). */
  allowsLogin: boolean;
  /** `deny.logins` names the login or `*`. */
  deniesLogin: boolean;
}

/** Why a login is allowed or denied on a node, as `loginsForNode` (and so sshd, through `mezd authorized-principals`) decides it. */
export interface AccessExplanation {
  allowed: boolean;
  /** One sentence: the rule that decided. */
  reason: string;
  /** The role whose rule decided; absent when no role has a rule that applies. */
  decidedBy?: { role: string; rule: 'allow.logins' | 'deny.logins' | 'deny.node_labels' };
  roles: RoleVerdict[];
}

const selector = (s: LabelSelector) =>
  Object.entries(s)
    .map(([k, v]) => `${k}: [${v.join(', ')}]`)
    .join(', ');

/**
 * Explains whether `roles` allow `login` on a node with `labels`, in the order the
 * decision is made: a deny.node_labels that selects the node denies every login; a deny
 * of `*` or of the login denies it; else a role whose allow.node_labels selects the node
 * and whose allow.logins names the login allows it; else nothing allows it. `allowed`
 * always equals `loginsForNode(roles, labels).includes(login)`.
 */
export function explainLogin(roles: NamedGrant[], labels: Record<string, string>, login: string): AccessExplanation {
  const verdicts: RoleVerdict[] = roles.map((r) => ({
    role: r.name,
    allowSelectsNode: labelsMatch(r.allow.nodeLabels, labels),
    denySelectsNode: Object.keys(r.deny.nodeLabels).length > 0 && labelsMatch(r.deny.nodeLabels, labels),
    allowsLogin: login !== '*' && r.allow.logins.includes(login),
    deniesLogin: r.deny.logins.includes('*') || r.deny.logins.includes(login),
  }));
  const out = (allowed: boolean, reason: string, decidedBy?: AccessExplanation['decidedBy']): AccessExplanation => ({ allowed, reason, ...(decidedBy ? { decidedBy } : {}), roles: verdicts });
  const byName = (n: string) => roles.find((r) => r.name === n) as NamedGrant;

  const labelDeny = verdicts.find((v) => v.denySelectsNode);
  if (labelDeny) return out(false, `role ${labelDeny.role} denies every login on nodes matching {${selector(byName(labelDeny.role).deny.nodeLabels)}}, and this node matches`, { role: labelDeny.role, rule: 'deny.node_labels' });
  const star = roles.find((r) => r.deny.logins.includes('*'));
  if (star) return out(false, `role ${star.name} denies every login (deny.logins: ['*'])`, { role: star.name, rule: 'deny.logins' });
  const loginDeny = verdicts.find((v) => v.deniesLogin);
  if (loginDeny) return out(false, `role ${loginDeny.role} denies the login ${login} (deny.logins)`, { role: loginDeny.role, rule: 'deny.logins' });
  const allow = verdicts.find((v) => v.allowSelectsNode && v.allowsLogin);
  if (allow) return out(true, `role ${allow.role} allows the login ${login} on nodes matching {${selector(byName(allow.role).allow.nodeLabels)}}, and this node matches`, { role: allow.role, rule: 'allow.logins' });
  if (roles.length === 0) return out(false, 'no role: nothing allows any login');
  const loginElsewhere = verdicts.filter((v) => v.allowsLogin).map((v) => v.role);
  if (loginElsewhere.length > 0) return out(false, `the node's labels match no allow.node_labels of the roles that allow ${login} (${loginElsewhere.join(', ')})`);
  return out(false, `no role allows the login ${login} (allow.logins)`);
}

