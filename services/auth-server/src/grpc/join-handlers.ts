import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import { sourceAddress } from '../domain/failure-limiter';
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
  };
}

/** Handlers for JoinService: no bearer credential; the token or the proof is the credential. */
export function joinHandlers(joins: JoinManager, nodeJoins: NodeJoinManager): ServiceImplementation<typeof authv1.JoinServiceDefinition, AuthContext> {
  return {
    async joinNode(req, ctx) {
      const r = await nodeJoins.join({ joinToken: req.joinToken, hostPublicKey: req.hostPublicKey, requestedTtlMs: req.requestedTtlSeconds * 1000, requestId: ctx.requestId });
      ctx.log.info('node joined', { node: r.node.name, node_id: r.node.id });
      return hostToProto(r);
    },
    async beginNodeRenewal(req, ctx) {
      const r = await nodeJoins.beginRenewal({ hostCertificate: req.hostCertificate, requestId: ctx.requestId });
      return { challengeId: r.challengeId, challenge: r.challenge, expireTime: r.expiresAt };
    },
    async completeNodeRenewal(req, ctx) {
      const r = await nodeJoins.completeRenewal({ challengeId: req.challengeId, signature: Buffer.from(req.signature), requestedTtlMs: req.requestedTtlSeconds * 1000, requestId: ctx.requestId });
      ctx.log.info('node renewed', { node: r.node.name });
      return hostToProto(r);
    },
    async join(req, ctx) {
      const r = await joins.join({ joinToken: req.joinToken, publicKey: req.publicKey, requestedTtlMs: req.requestedTtlSeconds * 1000, requestId: ctx.requestId });
      ctx.log.info('bot joined', { bot: r.botName, generation: r.generation });
      return toProto(r);
    },
    async beginRenewal(req, ctx) {
      const r = await joins.beginRenewal({ certificate: req.certificate, requestId: ctx.requestId, source: sourceAddress(ctx.peer) });
      return { challengeId: r.challengeId, challenge: r.challenge, expireTime: r.expiresAt };
    },
    async completeRenewal(req, ctx) {
      const r = await joins.completeRenewal({
        challengeId: req.challengeId,
        signature: Buffer.from(req.signature),
        newPublicKey: req.newPublicKey,
        requestedTtlMs: req.requestedTtlSeconds * 1000,
        requestId: ctx.requestId,
      });
      ctx.log.debug('bot renewed', { bot: r.botName, generation: r.generation });
      return toProto(r);
    },
  };
}
