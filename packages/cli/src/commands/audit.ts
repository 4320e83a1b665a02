import { failedPrecondition } from '@mezite/identity';
import { invalidArgument, parseDuration } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import { rfc3339, type OutputFormat } from '../output';

type Opts = GlobalOptions & { output: OutputFormat };

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i;

/**
 * `--since`: a duration back from now (`1h`, `30m`) or an RFC 3339 time
 * (`2026-03-24T15:00:00Z`). Anything else is refused rather than guessed at.
 */
export function parseSince(text: string, now: Date): Date {
  const s = text.trim();
  if (RFC3339.test(s)) {
    const t = new Date(s);
    if (!Number.isNaN(t.getTime())) return t;
  } else if (/^\d/.test(s) && !/^\d{4}-/.test(s)) {
    return new Date(now.getTime() - parseDuration(s, '--since'));
  }
  throw invalidArgument(`--since: expected a duration (1h) or an RFC 3339 time (2026-03-24T15:00:00Z), got "${text}"`);
}

const eventJson = (e: authv1.AuditEvent) => ({ id: e.id, time: rfc3339(e.time), type: e.type, actor: e.actor, target: e.target, result: e.result, request_id: e.requestId, details: e.details });

/** `mezctl audit ls`: the audit log, newest first (seed 002, "Audit Logging"). */
export function auditCommand(ctx: CliContext) {
  return {
    command: 'audit',
    describe: 'Read the audit log',
    builder: (y: Argv<Opts>) =>
      y
        .command(
          ['ls', 'list'],
          'List audit events, newest first',
          (a) =>
            a
              .option('since', { type: 'string', requiresArg: true, describe: 'Only events after this: a duration back from now (1h) or an RFC 3339 time' })
              .option('type', { type: 'string', requiresArg: true, describe: 'Only events whose type starts with this (bot. matches bot.create, bot.join, …)' })
              .option('limit', { type: 'number', default: 500, describe: 'At most this many events' }),
          async (argv) => {
            const since = argv.since === undefined ? undefined : parseSince(argv.since, ctx.clock.now());
            if (!Number.isInteger(argv.limit) || argv.limit < 1) throw invalidArgument(`--limit: expected a whole number of at least 1, got ${argv.limit}`);
            await ctx.withClients(argv, async (c) => {
              const events: authv1.AuditEvent[] = [];
              let pageToken = '';
              do {
                const pageSize = Math.min(argv.limit - events.length, 500);
                const r = await c.audit.listAuditEvents({ since, type: argv.type ?? '', pageSize, pageToken }, c.auth());
                events.push(...r.events.slice(0, argv.limit - events.length));
                pageToken = r.nextPageToken;
              } while (pageToken && events.length < argv.limit);
              ctx.printList(
                argv.output,
                events,
                ['TIME', 'TYPE', 'ACTOR', 'TARGET', 'RESULT', 'REQUEST_ID'],
                (e) => [rfc3339(e.time), e.type, e.actor, e.target, e.result, e.requestId],
                (items) => ({ items: items.map(eventJson) }),
              );
              if (pageToken) ctx.note(`showing the newest ${events.length} events; narrow with --since or --type, or raise --limit`);
            });
          },
        )
        .command(
          'verify',
          'Check the audit log\'s hash chain: any edited, deleted or reordered record is reported',
          (a) => a,
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const r = await c.audit.verifyAuditLog({}, c.auth());
              if (argv.output === 'json') ctx.printJson({ ok: r.ok, checked: r.checked, first_bad_seq: r.firstBadSeq || null, problem: r.problem || null });
              else if (r.ok) ctx.print(`Audit log intact: ${r.checked} records verified\n`);
              if (!r.ok) throw failedPrecondition(`audit log broken at record ${r.firstBadSeq}: ${r.problem}`);
            });
          },
        )
        .demandCommand(1, 'name an audit command: ls, verify'),
    handler: () => undefined,
  };
}
