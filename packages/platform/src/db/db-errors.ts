import { alreadyExists, internal, MeziteError, notFound, unavailable } from '@mezite/identity';

/**
 * Translates an error thrown by Prisma 7 (with the `@prisma/adapter-pg` driver
 * adapter) or by `pg` itself into a domain error (STYLE.md §9), keeping the original
 * as `cause` for the log:
 *
 * - unique violation (`P2002`, SQLSTATE `23505`) → `AlreadyExists` (`<what> already exists`);
 * - record required but missing (`P2025`) → `NotFound` (`<what> not found`);
 * - the database cannot be reached or dropped the connection (`P1001`, `P1017`,
 *   `ECONNREFUSED`, `ECONNRESET`, SQLSTATE class `08`, `57P01`–`57P03`, `53300`,
 *   connect/pool/statement timeouts, …) → `Unavailable` (`database unavailable`);
 * - anything else → `Internal`.
 *
 * Prisma types are not imported (each service generates its own client): the error is
 * duck-typed on `code`, `errorCode`, `name`, `meta.driverAdapterError.cause` and
 * `cause`. Shapes seen with Prisma 7.10 + adapter-pg 7.10: model calls throw
 * `PrismaClientKnownRequestError` with `code` (`P2002`, `P2025`, `P1001`, …) and
 * `meta.driverAdapterError.cause.kind`; raw queries and unmapped SQLSTATEs arrive as
 * `P2010`/`P2039` whose `meta.driverAdapterError.cause.originalCode` is the SQLSTATE;
 * a socket dying mid-connect surfaces as a plain `Error('Connection terminated
 * unexpectedly')`. A `MeziteError` is returned unchanged.
 */
export function translateDbError(err: unknown, what = 'record'): MeziteError {
  if (err instanceof MeziteError) return err;
  switch (classify(err, 0)) {
    case 'AlreadyExists':
      return alreadyExists(`${what} already exists`, { cause: err });
    case 'NotFound':
      return notFound(`${what} not found`, { cause: err });
    case 'Unavailable':
      return unavailable('database unavailable', { cause: err });
    default:
      return internal('internal error', { cause: err });
  }
}

type Verdict = 'AlreadyExists' | 'NotFound' | 'Unavailable' | undefined;

/** Prisma error codes (P1xxx: connection level) that mean "cannot reach the database now". */
// P2024: no connection from the pool in time; P2028: a transaction could not start or timed out; P2034: write conflict or deadlock (retry).
const PRISMA_UNAVAILABLE = new Set(['P1000', 'P1001', 'P1002', 'P1003', 'P1008', 'P1010', 'P1011', 'P1017', 'P2024', 'P2028', 'P2034', 'P2037']);
/** `DriverAdapterError.cause.kind` values that mean the same. */
const ADAPTER_UNAVAILABLE = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'AuthenticationFailed', 'DatabaseDoesNotExist', 'DatabaseAccessDenied', 'TlsConnectionError', 'TransactionAlreadyClosed']);
/** Node socket/DNS error codes. */
const SOCKET_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);
/** pg and pg-pool report lost connections and timeouts by message only. */
const PG_UNAVAILABLE_MESSAGE = /connection terminated|timeout exceeded when trying to connect|connection timeout|not queryable|query read timeout|server closed the connection/i;

/**
 * SQLSTATE verdicts: 23505 unique; class 08 connection; 57P01–03 shutdown; 53300, 57014
 * (cancel/timeout); 40001 and 40P01 (serialization failure, deadlock) and 55P03 (a lock
 * not granted within lock_timeout): the statement was rolled back and a retry may
 * succeed, so the caller is told to retry, not "internal".
 */
function fromSqlState(code: string): Verdict {
  if (code === '23505') return 'AlreadyExists';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300' || code === '57014' || code === '40001' || code === '40P01' || code === '55P03') return 'Unavailable';
  return undefined;
}

function classify(err: unknown, depth: number): Verdict {
  if (depth > 5 || typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; errorCode?: unknown; name?: unknown; message?: unknown; meta?: { driverAdapterError?: unknown }; cause?: unknown; errors?: unknown };

  // The adapter's own verdict, when Prisma kept it, is the most precise.
  const adapter = e.name === 'DriverAdapterError' ? err : e.meta?.driverAdapterError;
  const fromAdapter = classifyAdapter(adapter);
  if (fromAdapter) return fromAdapter;

  const code = typeof e.code === 'string' ? e.code : typeof e.errorCode === 'string' ? e.errorCode : undefined;
  if (code !== undefined) {
    if (code === 'P2002') return 'AlreadyExists';
    if (code === 'P2025') return 'NotFound';
    if (PRISMA_UNAVAILABLE.has(code) || SOCKET_UNAVAILABLE.has(code)) return 'Unavailable';
    if (/^[0-9A-Z]{5}$/.test(code)) {
      const v = fromSqlState(code);
      if (v) return v;
    }
  }
  if (typeof e.message === 'string' && PG_UNAVAILABLE_MESSAGE.test(e.message) && !isQueryError(e)) return 'Unavailable';

  // AggregateError (both address families refused) and wrapped causes.
  if (Array.isArray(e.errors)) for (const inner of e.errors) {
    const v = classify(inner, depth + 1);
    if (v) return v;
  }
  return e.cause !== err ? classify(e.cause, depth + 1) : undefined;
}

function classifyAdapter(adapter: unknown): Verdict {
  if (typeof adapter !== 'object' || adapter === null) return undefined;
  const cause = (adapter as { cause?: { kind?: unknown; originalCode?: unknown; code?: unknown } }).cause;
  if (typeof cause !== 'object' || cause === null) return undefined;
  if (cause.kind === 'UniqueConstraintViolation') return 'AlreadyExists';
  if (typeof cause.kind === 'string' && ADAPTER_UNAVAILABLE.has(cause.kind)) return 'Unavailable';
  const sqlState = typeof cause.originalCode === 'string' ? cause.originalCode : typeof cause.code === 'string' ? cause.code : undefined;
  return sqlState ? fromSqlState(sqlState) : undefined;
}

/** A server-side error with a SQLSTATE is never a lost connection, whatever its text says. */
function isQueryError(e: { code?: unknown }): boolean {
  return typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && !e.code.startsWith('08');
}
