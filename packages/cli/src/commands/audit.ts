import { readFileSync } from 'node:fs';
import { failedPrecondition, invalidArgument, notFound, parseDuration } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import { rfc3339, type OutputFormat } from '../output';

type Opts = GlobalOptions & { output: OutputFormat };

function readCheckpointFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw invalidArgument(`--checkpoints: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

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

/** One exported checkpoint line, the form `audit checkpoints` prints and `verify --checkpoints` reads. */
const checkpointJson = (c: authv1.AuditCheckpoint) => ({ seq: c.seq, hash: Buffer.from(c.hash).toString('hex'), time: c.time?.toISOString() ?? '', key_id: c.keyId, keyed_from: c.keyedFrom, signature: Buffer.from(c.signature).toString('base64') });

/**
 * Reads exported checkpoints (JSON lines; blank lines skipped). A malformed line is
 * refused naming its number; the server checks signatures and values.
 */
export function parseCheckpoints(text: string, file: string): authv1.AuditCheckpoint[] {
  const out: authv1.AuditCheckpoint[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const bad = (why: string) => invalidArgument(`--checkpoints: ${file} line ${i + 1}: ${why}`);
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw bad('not JSON');
    }
    if (typeof o !== 'object' || o === null) throw bad('not a checkpoint');
    const { seq, hash, time, key_id: keyId, keyed_from: keyedFrom, signature } = o;
    if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(keyedFrom) || typeof hash !== 'string' || typeof time !== 'string' || typeof keyId !== 'string' || typeof signature !== 'string') throw bad('expected seq, hash, time, key_id, keyed_from and signature');
    const t = new Date(time);
    if (Number.isNaN(t.getTime())) throw bad('time is not a time');
    out.push({ seq: seq as number, hash: Buffer.from(hash, 'hex'), time: t, keyId, keyedFrom: keyedFrom as number, signature: Buffer.from(signature, 'base64') });
  });
  if (out.length === 0) throw invalidArgument(`--checkpoints: ${file} holds no checkpoint`);
  return out;
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
          'explain <request-id>',
          'What happened to one request and why: its audit records, oldest first, with their reasons (the x-request-id a refused caller was given)',
          (a) => a.positional('request-id', { type: 'string', demandOption: true }),
          async (argv) => {
            const requestId = String(argv['request-id']);
            await ctx.withClients(argv, async (c) => {
              const r = await c.audit.listAuditEvents({ requestId, pageSize: 1000, type: '', pageToken: '' }, c.auth());
              const events = [...r.events].reverse();
              const failure = [...events].reverse().find((e) => e.result === 'failure');
              const outcome = events.length === 0 ? 'no audit record' : failure ? 'refused' : events.some((e) => e.result === 'success') ? 'succeeded' : 'requested, no outcome recorded';
              if (argv.output === 'json') {
                ctx.printJson({ request_id: requestId, outcome, reason: failure?.details.reason ?? null, events: events.map(eventJson) });
                return;
              }
              if (events.length === 0) throw notFound(`no audit record of request ${requestId} in your tenant (records are kept as long as the audit log is)`);
              ctx.print(`Request ${requestId}: ${outcome}${failure?.details.reason ? `: ${failure.details.reason}` : ''}\n`);
              for (const e of events) {
                const details = Object.entries(e.details)
                  .filter(([k]) => k !== 'reason')
                  .map(([k, v]) => `${k}=${v}`)
                  .join(' ');
                ctx.print(`  ${rfc3339(e.time)}  ${e.type}  ${e.result}  ${e.actor} → ${e.target}${e.details.reason ? `  reason: ${e.details.reason}` : ''}${details ? `  ${details}` : ''}\n`);
              }
            });
          },
        )
        .command(
          'checkpoint',
          'Sign a checkpoint of the audit chain head now and print it (one JSON line)',
          (a) => a,
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const cp = await c.audit.createAuditCheckpoint({}, c.auth());
              ctx.print(`${JSON.stringify(checkpointJson(cp))}\n`);
            });
          },
        )
        .command(
          'checkpoints',
          'Export signed checkpoints as JSON lines, oldest first (ship them to write-once storage)',
          (a) => a.option('after', { type: 'number', default: 0, describe: 'Only checkpoints of records after this sequence number' }),
          async (argv) => {
            if (!Number.isSafeInteger(argv.after) || argv.after < 0) throw invalidArgument(`--after: expected a whole number ≥ 0, got ${argv.after}`);
            await ctx.withClients(argv, async (c) => {
              let after = argv.after;
              for (;;) {
                const r = await c.audit.listAuditCheckpoints({ afterSeq: after, pageSize: 1000 }, c.auth());
                for (const cp of r.checkpoints) ctx.print(`${JSON.stringify(checkpointJson(cp))}\n`);
                const last = r.checkpoints[r.checkpoints.length - 1];
                if (!r.more || !last) break;
                after = last.seq;
              }
            });
          },
        )
        .command(
          'verify',
          'Check the audit log\'s keyed hash chain, and the chain against exported checkpoints: any edited, deleted or reordered record, or a truncated tail, is reported',
          (a) => a.option('checkpoints', { type: 'string', requiresArg: true, describe: 'A file of checkpoints exported earlier (JSON lines, from mezctl audit checkpoints)' }),
          async (argv) => {
            const checkpoints = argv.checkpoints === undefined ? [] : parseCheckpoints(readCheckpointFile(argv.checkpoints), argv.checkpoints);
            await ctx.withClients(argv, async (c) => {
              const r = await c.audit.verifyAuditLog({ checkpoints }, c.auth());
              if (argv.output === 'json') ctx.printJson({ ok: r.ok, checked: r.checked, first_bad_seq: r.firstBadSeq || null, problem: r.problem || null });
              else if (r.ok) ctx.print(`Audit log intact: ${r.checked} records verified${checkpoints.length ? `, ${checkpoints.length} checkpoints match` : ''}\n`);
              if (!r.ok) throw failedPrecondition(`audit log broken at record ${r.firstBadSeq}: ${r.problem}`);
            });
          },
        )
        .demandCommand(1, 'name an audit command: ls, explain, verify, checkpoint, checkpoints'),
    handler: () => undefined,
  };
}
