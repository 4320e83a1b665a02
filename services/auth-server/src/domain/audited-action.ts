import { isMeziteError } from '@mezite/identity';
import type { Logger } from '@mezite/platform';
import type { AuditEvent, AuditLog } from './audit';

/** What an admin action's records say, besides their result. */
export type ActionRecord = Omit<AuditEvent, 'id' | 'time' | 'result'>;

/**
 * Runs an admin action audited first, as Vault audits a request before serving it:
 *
 * 1. a `requested` record (actor, target, what was asked) is written before the action;
 *    when it cannot be written the action does not happen and the caller gets the
 *    write's error (fail closed);
 * 2. the action runs;
 * 3. the outcome is recorded under the same request id: `success` with what the
 *    action produced (`outcome`, e.g. a serial, a revision, the id of what it made, or
 *    a more precise type such as role.create for role.upsert), or `failure` with the
 *    reason the caller was given.
 *
 * The action has happened by step 3, so a failed outcome write is logged and the
 * answer still returned: the `requested` record already shows the action, and an
 * action reported as failed that did happen would be retried by the caller.
 */
export async function audited<T>(
  o: { audit: Pick<AuditLog, 'record'>; log: Pick<Logger, 'warn'> },
  e: ActionRecord,
  action: () => Promise<T>,
  outcome: (r: T) => { type?: string; target?: string; details?: Record<string, string> } = () => ({}),
): Promise<T> {
  await o.audit.record({ ...e, result: 'requested' });
  let r: T;
  try {
    r = await action();
  } catch (err) {
    // Domain errors' messages are the caller's; anything else stays in the log.
    const reason = isMeziteError(err) ? (err as Error).message : 'internal error';
    await o.audit.record({ ...e, result: 'failure', details: { ...e.details, reason } }).catch((w: unknown) => o.log.warn('could not audit the failure of an admin action', { type: e.type, request_id: e.requestId, err: w }));
    throw err;
  }
  const out = outcome(r);
  await o.audit
    .record({ ...e, ...(out.type ? { type: out.type } : {}), ...(out.target ? { target: out.target } : {}), result: 'success', details: { ...e.details, ...out.details } })
    .catch((w: unknown) => o.log.warn('could not audit the success of an admin action; its requested record stands', { type: e.type, request_id: e.requestId, err: w }));
  return r;
}
