import { invalidArgument } from './errors';

/** The two kinds of principal: people (`user`) and machines (`service`; bots too). */
export type PrincipalKind = 'user' | 'service';

/** A reference to a principal, written `service:<uuid>` or `user:<uuid>`. */
export interface IdentityRef {
  kind: PrincipalKind;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True when `s` is a UUID in canonical lower-case form. */
export function isUuid(s: string): boolean {
  return UUID.test(s);
}

/** Parses `service:<uuid>` or `user:<uuid>`; anything else is InvalidArgument. */
export function parseIdentityRef(text: string): IdentityRef {
  const i = text.indexOf(':');
  const kind = text.slice(0, i);
  const id = text.slice(i + 1).toLowerCase();
  if (i < 0 || (kind !== 'user' && kind !== 'service') || !isUuid(id)) {
    throw invalidArgument(`invalid identity ref "${text}": expected service:<uuid> or user:<uuid>`);
  }
  return { kind, id };
}

/** Writes an IdentityRef as `kind:uuid`. */
export function formatIdentityRef(ref: IdentityRef): string {
  return `${ref.kind}:${ref.id}`;
}
