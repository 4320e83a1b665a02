import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import { sourceAddress } from '../domain/failure-limiter';
import type { BotHeartbeat } from '../domain/bot-instance';
import type { IssuedBotCert, JoinManager } from '../domain/join-manager';
import type { IssuedHostCert, NodeJoinManager } from '../domain/node-join-manager';
import { nodeToProto } from './node-handlers';
import type { AuthContext } from './auth-middleware';

function toProto(c: IssuedBotCert): authv1.JoinResponse {
  return {
    certificate: c.certificate,
    hostCertAuthorities: c.hostCertAuthorities,
    userCertAuthorities: c.userCertAuthorities,
    generation: c.generation,
    botName: c.botName,
    expireTime: c.expiresAt,
    principals: c.principals,
    instanceId: c.instanceId,
  };
}

/** The daemon's heartbeat in domain terms (bounded by the domain). */
function heartbeatOf(h: authv1.BotHeartbeat | undefined): BotHeartbeat | null {
  if (!h) return null;
  return {
    version: h.version,
    hostname: h.hostname,
    os: h.os,
    renewalIntervalMs: Math.max(0, Number(h.renewalIntervalSeconds)) * 1000,
    oneShot: h.oneShot,
    destinations: h.destinations.map((d) => ({ destination: d.destination, healthy: d.healthy, error: d.error, updatedAt: d.updateTime ?? null })),
  };
}

function hostToProto(c: IssuedHostCert): authv1.NodeCertificateResponse {
  return {
    hostCertificate: c.hostCertificate,
    userCertAuthorities: c.userCertAuthorities,
    hostCertAuthorities: c.hostCertAuthorities,
    node: nodeToProto(c.node),
    principals: c.principals,
    expireTime: c.expiresAt,
    tenantId: c.node.tenantId,
  };
}

/** Handlers for JoinService: no bearer credential; the token or the proof is the credential. */
export function joinHandlers(joins: JoinManager, nodeJoins: NodeJoinManager): ServiceImplementation<typeof authv1.JoinServiceDefinition, AuthContext> {
  return {
    async joinNode(req, ctx) {
      const r = await nodeJoins.join({ joinToken: req.joinToken, hostPublicKey: req.hostPublicKey, requestedTtlMs: req.requestedTtlSeconds * 1000, requestId: ctx.requestId, source: sourceAddress(ctx.peer) });
      ctx.log.info('node joined', { node: r.node.name, node_id: r.node.id });
      return hostToProto(r);
    },
    async beginNodeRenewal(req, ctx) {
      const r = await nodeJoins.beginRenewal({ hostCertificate: req.hostCertificate, requestId: ctx.requestId, source: sourceAddress(ctx.peer) });
      return { challengeId: r.challengeId, challenge: r.challenge, expireTime: r.expiresAt };
    },
    async completeNodeRenewal(req, ctx) {
      const r = await nodeJoins.completeRenewal({ challengeId: req.challengeId, signature: Buffer.from(req.signature), requestedTtlMs: req.requestedTtlSeconds * 1000, requestId: ctx.requestId, source: sourceAddress(ctx.peer) });
      ctx.log.info('node renewed', { node: r.node.name });
      return hostToProto(r);
    },
    async join(req, ctx) {
      const r = await joins.join({ joinToken: req.joinToken, ...(req.idToken ? { idToken: req.idToken } : {}), publicKey: req.publicKey, requestedTtlMs: req.requestedTtlSeconds * 1000, heartbeat: heartbeatOf(req.heartbeat), requestId: ctx.requestId, source: sourceAddress(ctx.peer) });
      ctx.log.info('bot joined', { bot: r.botName, instance: r.instanceId, generation: r.generation });
      return toProto(r);
    },
    async renewBot(req, ctx) {
      const r = await joins.renew({
        certificate: req.certificate,
        newPublicKey: req.newPublicKey,
        timeMs: req.time ? req.time.getTime() : Number.NaN,
        signature: Buffer.from(req.signature),
        requestedTtlMs: req.requestedTtlSeconds * 1000,
        heartbeat: heartbeatOf(req.heartbeat),
        requestId: ctx.requestId,
        source: sourceAddress(ctx.peer),
      });
      ctx.log.debug('bot renewed', { bot: r.botName, instance: r.instanceId, generation: r.generation });
      return toProto(r);
    },
  };
}
