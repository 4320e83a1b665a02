import { invalidArgument, parseDuration } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import { rfc3339 } from '../output';
import type { OutputFormat } from '../output';

type Opts = GlobalOptions & { output: OutputFormat };

const time = (d: Date | undefined) => (d ? rfc3339(d) : null);
const labelText = (l: Record<string, string>) =>
  Object.entries(l)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

/**
 * `env=staging,team=web` → `{ env: 'staging', team: 'web' }`; a usage error names a
 * malformed pair. Names are own keys whatever they are called: `toString=x` is a label
 * (not "given twice" because every object inherits a toString). `__proto__` is refused
 * here: no label may have that name, and the generated gRPC decoder would drop it
 * silently (`labels['__proto__'] = 'x'` assigns nothing) instead of refusing it.
 */
export function parseLabels(text: string): Record<string, string> {
  const out = new Map<string, string>();
  for (const pair of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const i = pair.indexOf('=');
    if (i <= 0) throw invalidArgument(`--labels: "${pair}" is not NAME=VALUE`);
    const k = pair.slice(0, i).trim();
    if (k === '__proto__') throw invalidArgument(`--labels: label name "${k}": use letters, digits, '-', '_', '.' and '/', starting with a letter or digit`);
    if (out.has(k)) throw invalidArgument(`--labels: "${k}" is given twice`);
    out.set(k, pair.slice(i + 1).trim());
  }
  return Object.fromEntries(out);
}

/** A node as `--output json` shows it. */
export function nodeJson(n: authv1.Node) {
  return {
    id: n.id,
    name: n.name,
    addr: n.addr,
    labels: n.labels,
    created_at: rfc3339(n.createTime),
    joined_at: time(n.joinTime),
    last_seen_at: time(n.lastSeenTime),
    cert_expires_at: time(n.certExpireTime),
    host_key_fingerprint: n.hostKeyFingerprint || null,
    ...(n.logins.length ? { logins: n.logins } : {}),
  };
}

/** The lines after a node's join token: the command to run on the node. */
export function nodeJoinLines(token: string, expires: Date | undefined, authServer: string): string {
  return (
    `Join token: ${token} (expires: ${rfc3339(expires)})\n` +
    `\n` +
    `Run on the node (as root), then add "Include /etc/ssh/mezite/sshd_config" to /etc/ssh/sshd_config:\n` +
    `mezd node start --auth-server=${authServer} --join-token=${token} --host-key=/etc/ssh/ssh_host_ed25519_key.pub --destination=/etc/ssh/mezite\n`
  );
}

function formatNode(n: authv1.Node): string {
  const rows: Array<[string, string]> = [
    ['name', n.name],
    ['id', n.id],
    ['addr', n.addr],
    ['labels', labelText(n.labels)],
    ['created_at', rfc3339(n.createTime)],
    ['joined_at', rfc3339(n.joinTime)],
    ['last_seen_at', rfc3339(n.lastSeenTime)],
    ['cert_expires_at', rfc3339(n.certExpireTime)],
    ['host_key', n.hostKeyFingerprint],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 3;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${v || '-'}\n`).join('');
}

const nameArg = (a: Argv<Opts>) => a.positional('name', { type: 'string', demandOption: true, describe: 'Node name' });

/** `mezctl nodes …`: the inventory of OpenSSH nodes (add with a one-time join token, ls, show, rm). */
export function nodesCommand(ctx: CliContext) {
  return {
    command: 'nodes',
    describe: 'Manage nodes: OpenSSH servers that trust the User CA and hold host certificates',
    builder: (y: Argv<Opts>) =>
      y
        .command(
          'add',
          'Add a node and print its one-time join token for mezd node',
          (a) =>
            a
              .option('name', { type: 'string', demandOption: true, requiresArg: true, describe: 'Node name (a host name: lower-case letters, digits, - and .)' })
              .option('addr', { type: 'string', demandOption: true, requiresArg: true, describe: 'Where ssh dials it, HOST:PORT' })
              .option('labels', { type: 'string', default: '', describe: 'Comma-separated NAME=VALUE labels that roles select on (e.g. env=staging,team=web)' })
              .option('token-ttl', { type: 'string', default: '1h', describe: 'How long the join token stays valid (e.g. 30m, 1h)' }),
          async (argv) => {
            const labels = parseLabels(argv.labels);
            const tokenTtlSeconds = Math.ceil(parseDuration(argv.tokenTtl, '--token-ttl') / 1000);
            await ctx.withClients(argv, async (c, target) => {
              const r = await c.nodes.addNode({ name: argv.name, addr: argv.addr, labels, tokenTtlSeconds }, c.auth());
              const n = r.node as authv1.Node;
              if (argv.output === 'json') return ctx.printJson({ node: nodeJson(n), join_token: r.joinToken, expires_at: rfc3339(r.joinTokenExpireTime) });
              ctx.print(`Node added: ${n.name} (addr: ${n.addr}, labels: ${labelText(n.labels) || 'none'})\n` + nodeJoinLines(r.joinToken, r.joinTokenExpireTime, target.address));
            });
          },
        )
        .command(
          ['ls', 'list'],
          'List nodes',
          (a) => a,
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const nodes: authv1.Node[] = [];
              let pageToken = '';
              do {
                const r = await c.nodes.listNodes({ pageSize: 500, pageToken }, c.auth());
                nodes.push(...r.nodes);
                pageToken = r.nextPageToken;
              } while (pageToken);
              ctx.printList(
                argv.output,
                nodes,
                ['NAME', 'ADDR', 'LABELS', 'JOINED', 'LAST_SEEN', 'CERT_EXPIRES_AT'],
                (n) => [n.name, n.addr, labelText(n.labels), n.joinTime ? 'yes' : 'no', rfc3339(n.lastSeenTime), rfc3339(n.certExpireTime)],
                (items) => ({ items: items.map(nodeJson) }),
              );
            });
          },
        )
        .command('show <name>', 'Show one node', nameArg, async (argv) => {
          await ctx.withClients(argv, async (c) => {
            const n = await c.nodes.getNode({ name: argv.name }, c.auth());
            if (argv.output === 'json') return ctx.printJson(nodeJson(n));
            ctx.print(formatNode(n));
          });
        })
        .command(['rm <name>', 'remove <name>'], 'Remove a node: revoke its join token and host certificates', nameArg, async (argv) => {
          await ctx.withClients(argv, async (c) => {
            await c.nodes.deleteNode({ name: argv.name }, c.auth());
            if (argv.output === 'json') return ctx.printJson({ removed: argv.name });
            ctx.print(`Node removed: ${argv.name}\n`);
          });
        })
        .demandCommand(1, 'name a nodes command: add, ls, show, rm'),
    handler: () => undefined,
  };
}
