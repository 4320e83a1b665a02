import { Agent, request } from 'node:http';
import { createMeziteClients, type MeziteClients, Metadata, publicChannelCredentials } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { serveChild } from '../child';
import { EchoDefinition, HealthCheckDefinition } from '../reference/echo-definition';
import { BotFleet } from './bot-fleet';
import { closedLoop } from './closed-loop';

/** Where this load generator sends its calls. */
interface ConnectParams {
  workerIndex: number;
  caCertPem: string;
  /** `localhost:<port>` of the auth-server's public gRPC port (its certificate names localhost). */
  authServer: string;
  echoRaw: string;
  echoMezite: string;
  /** Channels (HTTP/2 connections) to the auth-server for the bots. */
  botChannels: number;
}

type GrpcTarget = 'echo-raw' | 'echo-mezite' | 'health' | 'whoami';

let cfg: ConnectParams;
const channels: MeziteClients[] = [];
let echoRaw: ReturnType<typeof makeEcho>;
let echoMezite: ReturnType<typeof makeEcho>;
let health: ReturnType<typeof makeHealth>;
let identity: ReturnType<typeof makeIdentity>;
let fleet: BotFleet;
const payload = Buffer.alloc(64, 7);

function channel(address: string, peerName: string): MeziteClients {
  const c = createMeziteClients({ address, credentials: publicChannelCredentials(cfg.caCertPem), peerName, defaultDeadlineMs: 15_000 });
  channels.push(c);
  return c;
}
const makeEcho = (address: string, name: string) => channel(address, name).create(EchoDefinition);
const makeIdentity = (c: MeziteClients) => c.create(authv1.IdentityServiceDefinition);
const makeHealth = (c: MeziteClients) => c.create(HealthCheckDefinition);

/**
 * A load generator process. Every client of the benchmark is the product's own:
 * `createMeziteClients` (nice-grpc on grpc-js with Mezite's error-mapping and deadline
 * middleware) over TLS trusting the stack's CA, and for bots the daemon's renewer.
 */
const handlers = {
  connect(p: ConnectParams) {
    cfg = p;
    echoRaw = makeEcho(p.echoRaw, 'echo (grpc-js)');
    echoMezite = makeEcho(p.echoMezite, 'echo (Mezite server)');
    const auth = channel(p.authServer, 'auth-server');
    health = makeHealth(auth);
    identity = makeIdentity(auth);
    const joinClients = Array.from({ length: Math.max(1, p.botChannels) }, (_, i) => (i === 0 ? auth : channel(p.authServer, 'auth-server')).create(authv1.JoinServiceDefinition));
    fleet = new BotFleet({ authServer: p.authServer, caCertPem: p.caCertPem, botClient: auth.create(authv1.BotServiceDefinition), joinClients, workerIndex: p.workerIndex });
    return { pid: process.pid };
  },

  /** Closed-loop unary calls against one target. */
  grpc(p: { target: GrpcTarget; inflight: number; warmupMs: number; durationMs: number; bearer?: string }) {
    const md = p.bearer ? Metadata({ authorization: `Bearer ${p.bearer}` }) : undefined;
    const op: Record<GrpcTarget, () => Promise<unknown>> = {
      'echo-raw': () => echoRaw.echo(payload),
      'echo-mezite': () => echoMezite.echo(payload),
      health: () => health.check(Buffer.alloc(0)),
      whoami: () => identity.whoAmI({}, md ? { metadata: md } : {}),
    };
    return closedLoop(p, op[p.target]);
  },

  /** Closed-loop OAuth2 client_credentials requests (client_secret_basic) over keep-alive HTTP/1.1. */
  http(p: { url: string; clientId: string; clientSecret: string; inflight: number; warmupMs: number; durationMs: number }) {
    const agent = new Agent({ keepAlive: true, maxSockets: p.inflight });
    const basic = Buffer.from(`${encodeURIComponent(p.clientId)}:${encodeURIComponent(p.clientSecret)}`).toString('base64');
    const body = 'grant_type=client_credentials';
    const headers = { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) };
    const post = () =>
      new Promise<void>((resolve, reject) => {
        const req = request(p.url, { method: 'POST', agent, headers, timeout: 15_000 }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => (res.statusCode === 200 && text.includes('"access_token"') ? resolve() : reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 120)}`))));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.on('error', reject);
        req.end(body);
      });
    return closedLoop(p, post).finally(() => agent.destroy());
  },

  createBots: (p: Parameters<BotFleet['createBots']>[0]) => fleet.createBots(p),
  join: (p: Parameters<BotFleet['join']>[0]) => fleet.join(p),
  renew: (p: Parameters<BotFleet['renew']>[0]) => fleet.renew(p),
  fleet: (p: Parameters<BotFleet['fleet']>[0]) => fleet.fleet(p),
  joined: () => fleet.joined,
  close() {
    for (const c of channels) c.close();
    return null;
  },
};

// Event-loop watchdog (BENCH_DEBUG): says when this process could not run its timers for a while.
if (process.env.BENCH_DEBUG) {
  let last = Date.now();
  setInterval(() => {
    const now = Date.now();
    if (now - last > 3000) process.stdout.write(`[load ${process.pid}] event loop blocked for ${now - last - 1000} ms\n`);
    last = now;
  }, 1000).unref();
}

serveChild(handlers);
