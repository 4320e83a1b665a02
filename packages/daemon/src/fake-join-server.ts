import { ServerError, Status } from 'nice-grpc';
import { randomBytes, randomUUID } from 'node:crypto';
import { type Clock, invalidArgument, type MeziteError, permissionDenied, systemClock, unauthenticated } from '@mezite/identity';
import { createGrpcServer, ensureInternalPki, type GrpcServer, nullLogger, publicServerCredentials, type RequestContext, spkiPin } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { type CaKeyPair, generateCaKey, parseCertificate, parsePublicKey, signCertificate, type SshCertificate, verifyCertificateSignature, verifyRenewal } from '@mezite/ssh';

/** The extension the real auth server puts its claims in (`{v, bot, gen, …}` as JSON). */
export const CLAIMS_EXTENSION = 'mezite@mezite.dev';

/** One CompleteRenewal the fake accepted or refused. */
export interface RenewalRecord {
  presentedGeneration: number;
  signatureValid: boolean;
  issuedGeneration?: number;
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

/**
 * Test support: the auth server's JoinService as its contract says, over real TLS on
 * 127.0.0.1 with a certificate from `ensureInternalPki` (chain includes the CA), real
 * OpenSSH certificates from a User CA, single-use challenges checked with
 * `verifyRenewal`, and the server's generation rule (current, or the previous one once
 * after a crash; anything else locks the bot).
 */
export class FakeJoinServer {
  readonly userCa: CaKeyPair = generateCaKey('ecdsa-p256', 'user-ca');
  readonly hostCa: CaKeyPair = generateCaKey('ecdsa-p256', 'host-ca');
  readonly joinToken: string;
  readonly botName: string;
  principals: string[];
  maxTtlMs: number;
  generation = 0;
  lastPresentedGeneration: number | null = null;
  tokenUsed = false;
  /** When set, joins and renewals are refused as for a locked bot. */
  lockReason: string | undefined;
  joins = 0;
  /** The `x-request-id` of every call, as the server middleware saw it. */
  readonly requestIds: string[] = [];
  readonly renewals: RenewalRecord[] = [];
  /** Every RPC fails with this while set (e.g. Unavailable). */
  failWith: MeziteError | undefined;
  private readonly challenges = new Map<string, { challenge: Buffer; cert: SshCertificate; gen: number }>();
  private serial = 1n;

  private constructor(
    private readonly server: GrpcServer,
    readonly address: string,
    readonly caCertPem: string,
    private readonly clock: Clock,
    o: FakeJoinServerOptions,
  ) {
    this.joinToken = o.joinToken ?? `tok-bot-${randomBytes(16).toString('hex')}`;
    this.botName = o.botName ?? 'github-deploy';
    this.principals = o.principals ?? ['deploy', 'ci'];
    this.maxTtlMs = o.maxTtlMs ?? 24 * 3600_000;
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
      beginRenewal: async (req, ctx) => (seen(ctx), get().beginRenewal(req)),
      completeRenewal: async (req, ctx) => (seen(ctx), get().completeRenewal(req)),
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
    if (req.joinToken !== this.joinToken || this.tokenUsed) throw unauthenticated('invalid join token');
    if (this.lockReason) throw permissionDenied(`bot "${this.botName}" is locked: ${this.lockReason}`);
    this.tokenUsed = true;
    this.joins++;
    this.generation++;
    this.lastPresentedGeneration = null;
    return this.issue(req.publicKey, req.requestedTtlSeconds, this.generation);
  }

  private beginRenewal(req: authv1.BeginRenewalRequest): Partial<authv1.BeginRenewalResponse> {
    this.maybeFail();
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
    const gen = (JSON.parse(cert.extensions[CLAIMS_EXTENSION] ?? '{}') as { gen?: number }).gen;
    if (typeof gen !== 'number') throw refused;
    const id = randomUUID();
    const challenge = randomBytes(32);
    this.challenges.set(id, { challenge, cert, gen });
    return { challengeId: id, challenge, expireTime: new Date(now.getTime() + 60_000) };
  }

  private completeRenewal(req: authv1.CompleteRenewalRequest): authv1.JoinResponse {
    this.maybeFail();
    const ch = this.challenges.get(req.challengeId);
    this.challenges.delete(req.challengeId);
    if (!ch) throw unauthenticated('unknown or expired renewal challenge');
    const newKey = parsePublicKey(req.newPublicKey);
    if (newKey.blob.equals(ch.cert.subjectKey.blob)) throw invalidArgument('a renewal must certify a new key; generate a fresh key pair');
    const record: RenewalRecord = { presentedGeneration: ch.gen, signatureValid: verifyRenewal(ch.cert.subjectKey, ch.challenge, newKey.blob, Buffer.from(req.signature)) };
    this.renewals.push(record);
    if (!record.signatureValid) throw unauthenticated('the renewal signature does not match the certificate key');
    if (this.lockReason) throw permissionDenied(`bot "${this.botName}" is locked: ${this.lockReason}`);
    const current = ch.gen === this.generation;
    const crashTolerated = ch.gen === this.generation - 1 && this.lastPresentedGeneration === ch.gen;
    if (!current && !crashTolerated) {
      this.lockReason = `certificate generation mismatch (presented ${ch.gen}, current ${this.generation})`;
      throw permissionDenied(`bot "${this.botName}" is locked: ${this.lockReason}`);
    }
    this.generation++;
    this.lastPresentedGeneration = ch.gen;
    record.issuedGeneration = this.generation;
    return this.issue(req.newPublicKey, req.requestedTtlSeconds, this.generation);
  }

  private issue(publicKey: string, ttlSeconds: number, gen: number): authv1.JoinResponse {
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
      extensions: { 'permit-pty': '', [CLAIMS_EXTENSION]: JSON.stringify({ v: 1, bot: this.botName, gen }) },
    });
    return {
      certificate: signed.line,
      hostCertAuthorities: [this.hostCa.publicKeyLine],
      userCertAuthorities: [this.userCa.publicKeyLine],
      generation: gen,
      botName: this.botName,
      expireTime: validBefore,
      principals: this.principals,
    };
  }

  private maybeFail(): void {
    if (this.failWith) throw this.failWith;
  }
}
