import { unauthenticated, type MeziteError } from '@mezite/identity';

/** Who a refused credential names, when that is known and can be trusted (a stored token, a verified certificate). */
export interface RefusalSubject {
  /** The tenant the record belongs to; without one it is shown to every tenant's admins, so it names nobody. */
  tenantId?: string;
  actor?: string;
  target?: string;
  /** Extra ids for the record (a serial, a token id): never a secret. */
  details?: Record<string, string>;
}

/**
 * Why a credential was refused: for the audit log and the log, never for the caller.
 * It rides as the `cause` of the one public error, which the error middleware never
 * sends (STYLE.md §8), so every reason still gets the same code and message and the
 * answer is no oracle (test/security/error-oracles.test.ts).
 */
export class Refusal extends Error {
  override readonly name = 'Refusal';
  constructor(
    /** Fixed words (`expired`, `revoked`, `unknown`, …), never caller input. */
    readonly reason: string,
    readonly subject: RefusalSubject = {},
    options?: { cause?: unknown },
  ) {
    super(`refused: ${reason}`, options);
  }
}

/** The public Unauthenticated error `message`, carrying `reason` for the audit log. */
export function refused(message: string, reason: string, subject?: RefusalSubject, cause?: unknown): MeziteError {
  return unauthenticated(message, { cause: new Refusal(reason, subject, cause === undefined ? undefined : { cause }) });
}

/** The Refusal behind `err` (its cause, or a cause of that), if any. */
export function refusalOf(err: unknown): Refusal | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    if (e instanceof Refusal) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
