import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isMeziteError, parseApiToken } from '@mezite/identity';
import type { Logger } from '@mezite/platform';
import type { ApiTokenClient } from '../domain/api-token-client';
import type { AuditLog } from '../domain/audit';
import { audited } from '../domain/audited-action';
import type { FailureLimiter } from '../domain/failure-limiter';
import type { RefusalAuditor, RefusalEvent } from '../domain/refusal-auditor';
import { oauthError, type ReadRequest, type Reply } from './oauth2';

/** Candidate tokens one report may carry. */
export const MAX_REPORTED_TOKENS = 100;
/** A report body, at most (100 matches with their URLs). */
export const MAX_REPORT_BODY = 128 * 1024;
/** Reports one source may send a minute (every report counts, found or not). */
export const REPORTS_PER_SOURCE_PER_MINUTE = 30;
/** The `token_type` answered when the report names none: the secret type we publish (docs/token-format.md). */
export const MEZITE_TOKEN_TYPE = 'mezite_api_token';

/** What the endpoint needs. */
export interface SecretScanningDeps {
  apiTokens: Pick<ApiTokenClient, 'verify' | 'delete'>;
  audit: Pick<AuditLog, 'record'>;
  /** Reports that name no live token, bounded per source (anyone may report). */
  refusals: Pick<RefusalAuditor, 'refused' | 'rateLimited'>;
  /** Counts every report per source; over REPORTS_PER_SOURCE_PER_MINUTE it is 429. */
  reports: Pick<FailureLimiter, 'check' | 'fail'>;
  log: Pick<Logger, 'warn'>;
}

/** One match of a report, as GitHub's secret-scanning partner program sends it. */
interface Match {
  token: string;
  type: string;
  url: string;
  source: string;
}

/** One answer per match, in the partner program's feedback shape (`token_hash`, never the token). */
interface Verdict {
  token_hash: string;
  token_type: string;
  label: 'true_positive' | 'false_positive';
}

/**
 * `POST /v1/secret-scanning/revoke`: public revocation of leaked API tokens, in the shape
 * of GitHub's secret-scanning partner program (a JSON array of `{token, type, url,
 * source}`). Anyone may report: revoking a token needs nothing but the token, which the
 * reporter holds anyway. A candidate whose checksum fails is `false_positive` with no
 * lookup; a live token is revoked (with every successor its rotations made, as
 * `identity-tokens delete` does), audited with where it was found, and is
 * `true_positive`; anything else (unknown, already revoked or expired) is
 * `false_positive`. The answer holds nothing else: status, headers and fields are the
 * same whatever was found, so it tells a reporter only what the program's feedback does,
 * about tokens the reporter already holds. A failure to revoke is 503 (retry), never a
 * `false_positive` for a live token.
 */
export async function secretScanningEndpoint(req: IncomingMessage, d: SecretScanningDeps, read: ReadRequest): Promise<Reply> {
  const source = read.source ?? 'unknown';
  const keys = [`report-source:${source}`];
  const event: RefusalEvent = { type: 'token.leak_report', requestId: read.requestId, source, credential: 'reported api token', target: 'token:?', fallbackReason: 'not a live api token' };
  try {
    d.reports.check(keys);
  } catch (err) {
    if (!isMeziteError(err, 'ResourceExhausted')) throw err;
    await d.refusals.rateLimited(event);
    return { ...oauthError(429, 'rate_limited', `at most ${REPORTS_PER_SOURCE_PER_MINUTE} reports a minute from one address`), headers: { 'retry-after': '60' } };
  }
  await d.reports.fail(keys);

  const matches = parseReport(req, read.body);
  if (!Array.isArray(matches)) return matches;
  const verdicts: Verdict[] = [];
  for (const m of matches) {
    const verdict = (label: Verdict['label']): Verdict => ({ token_hash: createHash('sha256').update(m.token, 'utf8').digest('hex'), token_type: m.type || MEZITE_TOKEN_TYPE, label });
    // A made-up or mistyped candidate: refused by its checksum, no lookup, nothing stored.
    if (!parseApiToken(m.token)) {
      verdicts.push(verdict('false_positive'));
      continue;
    }
    let info;
    try {
      info = await d.apiTokens.verify(m.token, read.requestId);
    } catch (err) {
      if (!isMeziteError(err, 'Unauthenticated')) return unavailable(err, d, read);
      await d.refusals.refused(event, err);
      verdicts.push(verdict('false_positive'));
      continue;
    }
    const t = info;
    try {
      await audited(
        { audit: d.audit, log: d.log },
        {
          tenantId: t.tenantId,
          type: 'token.leak_revoke',
          actor: `reporter:${source}`,
          target: `token:${t.id}`,
          requestId: read.requestId,
          details: { found_at: m.url.slice(0, 300), found_in: m.source.slice(0, 40), reported_type: m.type.slice(0, 64), identity: `${t.identityKind}:${t.identityId}` },
        },
        () => d.apiTokens.delete({ tenantId: t.tenantId, identityId: t.identityId, id: t.id, requestId: read.requestId }),
      );
    } catch (err) {
      return unavailable(err, d, read);
    }
    verdicts.push(verdict('true_positive'));
  }
  return { status: 200, body: verdicts };
}

/** The report's matches, or the 4xx that says what is wrong with it. */
function parseReport(req: IncomingMessage, body: Buffer | null): Match[] | Reply {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') return oauthError(400, 'invalid_request', 'the body must be application/json: an array of {token, type, url, source}');
  if (body === null) return oauthError(413, 'invalid_request', `a report is at most ${MAX_REPORT_BODY / 1024} KiB`);
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return oauthError(400, 'invalid_request', 'the body is not JSON');
  }
  if (!Array.isArray(doc) || doc.length === 0) return oauthError(400, 'invalid_request', 'the body must be a non-empty JSON array of {token, type, url, source}');
  if (doc.length > MAX_REPORTED_TOKENS) return oauthError(400, 'invalid_request', `at most ${MAX_REPORTED_TOKENS} tokens per report`);
  const out: Match[] = [];
  for (const [i, e] of doc.entries()) {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) return oauthError(400, 'invalid_request', `element ${i} is not an object`);
    const { token, type: t, url, source } = e as Record<string, unknown>;
    if (typeof token !== 'string' || token === '' || token.length > 256) return oauthError(400, 'invalid_request', `element ${i}: token must be a string of 1 to 256 characters`);
    for (const [k, v] of [['type', t], ['url', url], ['source', source]] as const) {
      if (v !== undefined && typeof v !== 'string') return oauthError(400, 'invalid_request', `element ${i}: ${k} must be a string`);
    }
    out.push({ token, type: typeof t === 'string' ? t.slice(0, 64) : '', url: typeof url === 'string' ? url : '', source: typeof source === 'string' ? source : '' });
  }
  return out;
}

/** token-service or the audit log failed: the reporter retries; nothing is claimed about the tokens. */
function unavailable(err: unknown, d: SecretScanningDeps, read: ReadRequest): Reply {
  d.log.warn('a leaked-token report could not be handled', { err, request_id: read.requestId });
  return { ...oauthError(503, 'temporarily_unavailable', `try again (request id ${read.requestId})`), headers: { 'retry-after': '5' } };
}
