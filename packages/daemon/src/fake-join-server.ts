import { ServerError, Status } from 'nice-grpc';
import { randomBytes, randomUUID } from 'node:crypto';
import { type Clock, invalidArgument, type MeziteError, permissionDenied, systemClock, unauthenticated, unavailable } from '@mezite/identity';
import { createGrpcServer, ensureInternalPki, type GrpcServer, nullLogger, publicServerCredentials, type RequestContext, spkiPin } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { type CaKeyPair, generateCaKey, parseCertificate, parsePublicKey, signCertificate, type SshCertificate, verifyBotRenewal, verifyCertificateSignature, botCertificateClaims, botRenewalProof, CLAIMS_EXTENSION } from '@mezite/ssh';


/** One RenewBot the fake accepted or refused. */
export interface RenewalRecord {
  presentedGeneration: number;
  signatureValid: boolean;
  issuedGeneration?: number;
  /** Set when the renewal repeated an earlier one (same generation, same key) and got its certificate again. */
  replayed?: true;
}

/** Options of {@link FakeJoinServer.start}. */
export interface FakeJoinServerOptions {
  /** Scratch directory for the TLS PKI. */
  dir: string;
  joinToken?: string;
  botName?: string;
  principals?: string[];
  /** The longest certificate the "roles" allow. */
  maxTtlMs?: number;
  clock?: Clock;
}

/** One machine's lineage: created by a join, moved on by renewals. */
interface FakeInstance {
  id: string;
  generation: number;
  lockReason?: string;
  /** The answer to each presented generation, with the key it certified. */
  answered: Map<number, { keyBlob: Buffer; response: authv1.JoinResponse }>;
}

/** How far a renewal's time may be from the server's clock. */
const MAX_SKEW_MS = 2 * 60_000;

/**
 * Test support: the auth server's JoinService as its contract says, over real TLS on
 * 127.0.0.1 with a certificate from `ensureInternalPki` (chain includes the CA), real
 * OpenSSH certificates from a User CA, and the server's rules, kept simple: a join token
 * is redeemed once, and a repeat with the same public key gets the same certificate;
 * RenewBot checks the certificate, the time (±2 min) and the proof (`verifyBotRenewal`),
 * answers a repeat of a generation with the same new key with the same certificate, and
 * locks the instance when a generation comes again with another key (a copy).
 */
export class FakeJoinServer {
  readonly userCa: CaKeyPair = generateCaKey('ecdsa-p256', 'user-ca');
  readonly hostCa: CaKeyPair = generateCaKey('ecdsa-p256', 'host-ca');
  /** The first join token; {@link addJoinToken} mints more (another instance each). */
  readonly joinToken: string;
  readonly botName: string;
  principals: string[];
  maxTtlMs: number;
  /** When set, joins and renewals are refused as for a locked bot (an admin's lock). */
  lockReason: string | undefined;
  /** Joins that redeemed a token (a repeat answered again is counted in joinReplays). */
  joins = 0;
  joinReplays = 0;
  /** The `x-request-id` of every call, as the server middleware saw it. */
  readonly requestIds: string[] = [];
  readonly renewals: RenewalRecord[] = [];
  /** The heartbeat of every Join and RenewBot that got past `failWith`, oldest first. */
  readonly heartbeats: Array<authv1.BotHeartbeat | undefined> = [];
  /** Every RPC fails with this while set (e.g. Unavailable). */
  failWith: MeziteError | undefined;
  /** The next this many calls that succeed commit, then fail with Unavailable (the response was lost). */
  loseResponses = 0;
  readonly instances = new Map<string, FakeInstance>();
  private readonly tokens = new Map<string, { redeemed?: { publicKey: string; response: authv1.JoinResponse } }>();
  private serial = 1n;

  private constructor(
    private readonly server: GrpcServer,
    readonly address: string,
    readonly caCertPem: string,
    private readonly clock: Clock,
    o: FakeJoinServerOptions,
  ) {
    this.joinToken = o.joinToken ?? `tok-bot-${randomBytes(16).toString('hex')}`;
    this.tokens.set(this.joinToken, {});
    this.botName = o.botName ?? 'github-deploy';
    this.principals = o.principals ?? ['deploy', 'ci'];
    this.maxTtlMs = o.maxTtlMs ?? 24 * 3600_000;
  }

  /** Mints another one-time join token for the bot (`mezctl bots instances add`). */
  addJoinToken(): string {
    const token = `tok-bot-${randomBytes(16).toString('hex')}`;
    this.tokens.set(token, {});
    return token;
  }

  /** `sha256:…` of the TLS CA, as `--ca-pin` takes it. */
  get caPin(): string {
    return spkiPin(this.caCertPem);
  }

  /** Starts on 127.0.0.1:0. */
  static async start(o: FakeJoinServerOptions): Promise<FakeJoinServer> {
    const pki = await ensureInternalPki({ dir: o.dir, names: ['auth-server'] });
    const leaf = pki.leaf('auth-server');
    const server = createGrpcServer({ name: 'fake-auth-server', logger: nullLogger });
    let fake: FakeJoinServer | undefined;
    const get = () => fake as FakeJoinServer;
    const seen = (ctx: RequestContext) => get().requestIds.push(ctx.requestId);
    const impl: authv1.JoinServiceImplementation<RequestContext> = {
      join: async (req, ctx) => (seen(ctx), get().join(req)),
      renewBot: async (req, ctx) => (seen(ctx), get().renewBot(req)),
      // Node joins are exercised against the real stack (test/e2e/nodes.test.ts).
      joinNode: async () => {
        throw new ServerError(Status.UNIMPLEMENTED, 'the fake join server does not implement node joins');
      },
      beginNodeRenewal: async () => {
        throw new ServerError(Status.UNIMPLEMENTED, 'the fake join server does not implement node renewals');
      },
      completeNodeRenewal: async () => {
        throw new ServerError(Status.UNIMPLEMENTED, 'the fake join server does not implement node renewals');
      },
    };
    server.services.add(authv1.JoinServiceDefinition, impl);
    const port = await server.listen('127.0.0.1:0', publicServerCredentials({ caCertPem: pki.caCertPem, certPem: leaf.certPem, keyPem: leaf.keyPem }));
    fake = new FakeJoinServer(server, `127.0.0.1:${port}`, pki.caCertPem, o.clock ?? systemClock, o);
    return fake;
  }

  async stop(): Promise<void> {
    await this.server.shutdown(100);
  }

  private join(req: authv1.JoinRequest): authv1.JoinResponse {
    this.maybeFail();
    this.heartbeats.push(req.heartbeat);
    const token = this.tokens.get(req.joinToken);
    if (!token) throw unauthenticated('invalid join token');
    if (token.redeemed) {
      if (token.redeemed.publicKey !== req.publicKey) throw unauthenticated('invalid join token');
      this.joinReplays++;
      return this.respond(token.redeemed.response);
    }
    if (this.lockReason) throw permissionDenied(`bot "${this.botName}" is locked: ${this.lockReason}`);
    const instance: FakeInstance = { id: randomUUID(), generation: 1, answered: new Map() };
    this.instances.set(instance.id, instance);
    this.joins++;
    const response = this.issue(req.publicKey, req.requestedTtlSeconds, instance);
    token.redeemed = { publicKey: req.publicKey, response };
    return this.respond(response);
  }

  private renewBot(req: authv1.RenewBotRequest): authv1.JoinResponse {
    this.maybeFail();
    this.heartbeats.push(req.heartbeat);
    const refused = unauthenticated('the certificate was not issued by this cluster or has expired');
    let cert: SshCertificate;
    try {
      cert = parseCertificate(req.certificate);
    } catch {
      throw refused;
    }
    const now = this.clock.now();
    if (cert.type !== 'user' || !cert.signatureKey.blob.equals(parsePublicKey(this.userCa.publicKeyLine).blob) || !verifyCertificateSignature(cert)) throw refused;
    if (cert.validAfter > now || cert.validBefore <= now) throw refused;
    const claims = botCertificateClaims(cert);
    const instance = claims.instanceId === undefined ? undefined : this.instances.get(claims.instanceId);
    if (!instance || claims.generation === undefined) throw refused;
    if (!req.time || Math.abs(req.time.getTime() - now.getTime()) > MAX_SKEW_MS) throw invalidArgument('the renewal time is missing or more than 2 minutes off the server clock');
    const newKey = parsePublicKey(req.newPublicKey);
    if (newKey.blob.equals(cert.subjectKey.blob)) throw invalidArgument('a renewal must certify a new key; generate a fresh key pair');
    const proof = botRenewalProof(cert, newKey.blob, req.time.getTime());
    const record: RenewalRecord = { presentedGeneration: proof.generation, signatureValid: verifyBotRenewal(cert.subjectKey, proof, Buffer.from(req.signature)) };
    this.renewals.push(record);
    if (!record.signatureValid) throw unauthenticated('the renewal signature does not match the certificate key');
    if (this.lockReason) throw permissionDenied(`bot "${this.botName}" is locked: ${this.lockReason}`);
    const locked = () => permissionDenied(`bot "${this.botName}" instance ${instance.id} is locked: ${instance.lockReason}`);
    if (instance.lockReason) throw locked();
    if (proof.generation === instance.generation) {
      instance.generation++;
      record.issuedGeneration = instance.generation;
      const response = this.issue(req.newPublicKey, req.requestedTtlSeconds, instance);
      instance.answered.set(proof.generation, { keyBlob: newKey.blob, response });
      return this.respond(response);
    }
    const before = instance.answered.get(proof.generation);
    if (before?.keyBlob.equals(newKey.blob)) {
      record.issuedGeneration = before.response.generation;
      record.replayed = true;
      return this.respond(before.response);
    }
    instance.lockReason = `generation ${proof.generation} presented again with another key (current ${instance.generation}): the credentials were copied`;
    throw locked();
  }

  private issue(publicKey: string, ttlSeconds: number, instance: FakeInstance): authv1.JoinResponse {
    const gen = instance.generation;
    const now = this.clock.now();
    const ttlMs = Math.min(this.maxTtlMs, ttlSeconds > 0 ? ttlSeconds * 1000 : 3600_000);
    const validBefore = new Date(Math.floor((now.getTime() + ttlMs) / 1000) * 1000);
    const signed = signCertificate({
      ca: { key: this.userCa.privateKey },
      subjectKey: parsePublicKey(publicKey),
      type: 'user',
      serial: this.serial++,
      keyId: `bot:${this.botName}`,
      principals: this.principals,
      validAfter: new Date(Math.floor(now.getTime() / 1000) * 1000 - 60_000), // backdated for clock skew, as ssh-ca does
      validBefore,
      extensions: { 'permit-pty': '', [CLAIMS_EXTENSION]: JSON.stringify({ v: 1, bot: this.botName, bot_id: `bot-${this.botName}`, inst: instance.id, gen }) },
    });
    return {
      certificate: signed.line,
      hostCertAuthorities: [this.hostCa.publicKeyLine],
      userCertAuthorities: [this.userCa.publicKeyLine],
      generation: gen,
      botName: this.botName,
      expireTime: validBefore,
      principals: this.principals,
      instanceId: instance.id,
    };
  }

  /** The answer, unless the response is to be lost after committing. */
  private respond(response: authv1.JoinResponse): authv1.JoinResponse {
    if (this.loseResponses > 0) {
      this.loseResponses--;
      throw unavailable('the connection was reset before the response was sent');
    }
    return response;
  }

  private maybeFail(): void {
    if (this.failWith) throw this.failWith;
  }
}
