import { readFileSync } from 'node:fs';
import { failedPrecondition, invalidArgument, joinAudience, matchAllowRules, parseJoinTokenYaml, type AllowRule } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { Clients, GlobalOptions } from '../connection';
import type { OutputFormat } from '../output';

type Opts = GlobalOptions & { output: OutputFormat };

async function listAll(c: Clients): Promise<authv1.JoinTokenResource[]> {
  const out: authv1.JoinTokenResource[] = [];
  let pageToken = '';
  do {
    const r = await c.joinTokens.listJoinTokens({ pageSize: 500, pageToken }, c.auth());
    out.push(...r.joinTokens);
    pageToken = r.nextPageToken;
  } while (pageToken);
  return out;
}

/** A resource as JSON output shows it. */
export function joinTokenDocument(r: authv1.JoinTokenResource) {
  return {
    name: r.name,
    bot: r.bot,
    join_method: r.joinMethod,
    audience: r.audience,
    allow: r.allow.map((a) => a.claims),
    options: r.options,
    expires: r.expireTime?.toISOString() ?? null,
    created: r.createTime?.toISOString() ?? null,
    revision: r.revision,
  };
}

const ruleText = (r: AllowRule) => Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join(' ');

/** The claims of a compact JWT, without checking its signature. */
function claimsOf(jwt: string, file: string): Record<string, unknown> {
  const parts = jwt.trim().split('.');
  if (parts.length !== 3) throw invalidArgument(`${file}: not a JWT (expected three dot-separated parts)`);
  try {
    const c = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as unknown;
    if (c && typeof c === 'object' && !Array.isArray(c)) return c as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw invalidArgument(`${file}: the JWT's payload is not a JSON object`);
}

/**
 * `mezctl join-tokens ls|show|rm|test`: provision resources for delegated joins (create
 * them with `mezctl create -f token.yaml`). `test` explains offline, without checking
 * the token's signature, which allow rule would admit an ID token and why the others
 * would not; the server still verifies the signature, issuer and replay.
 */
export function joinTokensCommand(ctx: CliContext) {
  return {
    command: 'join-tokens',
    describe: 'Manage join-token resources for secretless joins (create them with: create -f token.yaml)',
    builder: (y: Argv<Opts>) =>
      y
        .command(
          ['ls', 'list'],
          'List join-token resources',
          (a) => a,
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              ctx.printList(
                argv.output,
                await listAll(c),
                ['NAME', 'BOT', 'METHOD', 'RULES', 'EXPIRES'],
                (r) => [r.name, r.bot, r.joinMethod, String(r.allow.length), r.expireTime?.toISOString() ?? 'never'],
                (items) => ({ items: items.map(joinTokenDocument) }),
              );
            });
          },
        )
        .command(
          'show <name>',
          'Show one join-token resource',
          (a) => a.positional('name', { type: 'string', demandOption: true }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const r = await c.joinTokens.getJoinToken({ name: argv.name }, c.auth());
              if (argv.output === 'json') return ctx.printJson(joinTokenDocument(r));
              const lines = [`Name:        ${r.name}`, `Bot:         ${r.bot}`, `Join method: ${r.joinMethod}`, `Audience:    ${r.audience}`, `Expires:     ${r.expireTime?.toISOString() ?? 'never'}`, `Revision:    ${r.revision}`];
              for (const [k, v] of Object.entries(r.options)) lines.push(`${r.joinMethod}.${k}: ${k === 'static_jwks' ? `(${v.length} characters)` : v}`);
              lines.push('Allow rules (any one matching admits):');
              r.allow.forEach((a, i) => lines.push(`  ${i}: ${ruleText(a.claims)}`));
              ctx.print(`${lines.join('\n')}\n`);
            });
          },
        )
        .command(
          ['rm <name>', 'remove <name>'],
          'Remove a join-token resource (instances it created are left alone)',
          (a) => a.positional('name', { type: 'string', demandOption: true }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              await c.joinTokens.deleteJoinToken({ name: argv.name }, c.auth());
              if (argv.output === 'json') return ctx.printJson({ removed: argv.name });
              ctx.print(`join token "${argv.name}" has been deleted\n`);
            });
          },
        )
        .command(
          'test',
          'Explain offline which allow rule would admit an ID token (its signature is not checked)',
          (a) =>
            a
              .option('file', { type: 'string', demandOption: true, requiresArg: true, describe: 'The ID token (a JWT) to explain' })
              .option('name', { type: 'string', requiresArg: true, describe: 'The join-token resource, read from the auth server' })
              .option('resource-file', { type: 'string', requiresArg: true, describe: 'Or the resource as YAML (kind: join_token), read locally: no server needed' })
              .check((v) => {
                if (!v.name === !v['resource-file']) throw new Error('give --name or --resource-file');
                return true;
              }),
          async (argv) => {
            const claims = claimsOf(readFileSync(argv.file, 'utf8'), argv.file);
            let rules: AllowRule[];
            let audience: string;
            if (argv['resource-file']) {
              const doc = parseJoinTokenYaml(readFileSync(argv['resource-file'], 'utf8'), argv['resource-file']);
              rules = doc.allow;
              audience = doc.audience || joinAudience('default', doc.name);
            } else {
              const r = await ctx.withClients(argv, (c) => c.joinTokens.getJoinToken({ name: argv.name as string }, c.auth()));
              rules = r.allow.map((a) => a.claims);
              audience = r.audience;
            }
            const m = matchAllowRules(rules, claims);
            const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
            const audOk = aud.includes(audience);
            const exp = typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : null;
            const allowed = m.allowed && audOk;
            if (argv.output === 'json') ctx.printJson({ allowed, audience: { wanted: audience, ok: audOk }, expires: exp?.toISOString() ?? null, rules: m.verdicts, signature_checked: false });
            else explain();
            if (!allowed) throw failedPrecondition('this ID token would be refused');
            function explain() {
            const out = [`${allowed ? 'ALLOWED' : 'REFUSED'} (signature not checked; the auth server also checks issuer, expiry and replay)`];
            out.push(`audience: ${audOk ? 'ok' : `wanted ${JSON.stringify(audience)}, got ${JSON.stringify(claims.aud)}`}`);
            if (exp) out.push(`expires: ${exp.toISOString()}${exp.getTime() < Date.now() ? ' (already expired)' : ''}`);
            for (const v of m.verdicts) out.push(`rule ${v.index}: ${v.matched ? 'matches' : `no match: ${v.mismatches.join('; ')}`}`);
            if (m.verdicts.length === 0) out.push('no allow rules: nothing is admitted');
            ctx.print(`${out.join('\n')}\n`);
            }
          },
        )
        .demandCommand(1, 'name a join-tokens command: ls, show, rm, test'),
    handler: () => undefined,
  };
}
