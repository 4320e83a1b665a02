import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { authv1 } from '@mezite/proto';
import { formatPublicKey } from '@mezite/ssh';
import { renewBotRequest } from '../harness/bot-credentials';
import { CI_DEPLOYER_ROLE } from '../harness/roles';
import type { TestStack } from '../harness/test-stack';
import type { RawGrpc, RawReply } from './raw-grpc';

/**
 * Set-up through the gRPC API as the bootstrap admin: the same calls `mezctl create -f`
 * and `mezctl bots add` make, without starting a CLI process per step (seconds each on
 * a loaded 2-core machine).
 */

/** The bootstrap admin's session secret (`mzs_…`), from the identity file the stack wrote. */
export function adminSession(stack: TestStack): string {
  return (JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')) as { token: string }).token;
}

/** Creates (or replaces) a role from YAML; throws with the server's answer on failure. */
export async function upsertRole(grpc: RawGrpc, admin: string, yaml: string = CI_DEPLOYER_ROLE): Promise<void> {
  const r = await grpc.unary('/mezite.auth.v1.RoleService/UpsertRole', authv1.UpsertRoleRequest, { yaml, fileName: 'role.yaml', force: true }, authv1.Role, { authorization: `Bearer ${admin}` });
  if (r.code !== 0) throw new Error(`UpsertRole: ${r.code} ${r.details}`);
}

/** Creates a bot and returns its one-time join token. */
export async function createBot(grpc: RawGrpc, admin: string, name: string, roles: string[] = ['ci-deployer'], tokenTtlSeconds = 3600): Promise<string> {
  const r = await grpc.unary('/mezite.auth.v1.BotService/CreateBot', authv1.CreateBotRequest, { name, roles, tokenTtlSeconds }, authv1.CreateBotResponse, { authorization: `Bearer ${admin}` });
  if (!r.message) throw new Error(`CreateBot ${name}: ${r.code} ${r.details}`);
  return r.message.joinToken;
}

/** The one call that renews a bot. */
export const RENEW_BOT = '/mezite.auth.v1.JoinService/RenewBot';

/**
 * RenewBot for the certificate `line` held with `key`, asking for `next`: signed as mezd
 * signs it, unless `o` makes it sign with another key, over other data, or at another
 * time (renewBotRequest); `o.request` changes fields of the request after signing.
 */
export function renewBot(
  grpc: RawGrpc,
  line: string,
  key: KeyObject,
  next: KeyObject,
  o: Parameters<typeof renewBotRequest>[2] & { request?: Partial<authv1.RenewBotRequest> } = {},
): Promise<RawReply & { message?: authv1.JoinResponse }> {
  const req = { ...renewBotRequest({ certificate: line, key }, { publicKey: formatPublicKey(next) }, o), ...o.request };
  return grpc.unary(RENEW_BOT, authv1.RenewBotRequest, req, authv1.JoinResponse);
}

/** One audit record, as AuditService returns it. */
export type AuditRecord = authv1.AuditEvent;

/** Every audit record of `typePrefix` the admin can see (newest first), up to 5000. */
export async function auditEvents(grpc: RawGrpc, admin: string, typePrefix = ''): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  let pageToken = '';
  do {
    const r = await grpc.unary('/mezite.auth.v1.AuditService/ListAuditEvents', authv1.ListAuditEventsRequest, { type: typePrefix, pageSize: 1000, pageToken }, authv1.ListAuditEventsResponse, { authorization: `Bearer ${admin}` });
    if (!r.message) throw new Error(`ListAuditEvents: ${r.code} ${r.details}`);
    out.push(...r.message.events);
    pageToken = r.message.nextPageToken;
  } while (pageToken && out.length < 5000);
  return out;
}
