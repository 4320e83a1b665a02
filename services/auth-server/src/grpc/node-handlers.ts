import { requirePrincipal } from '../domain/authz';
import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { Node } from '../domain/node';
import type { NodeManager, VisibleNode } from '../domain/node-manager';
import type { AuthContext } from './auth-middleware';

/** A node as the API shows it. */
export function nodeToProto(n: VisibleNode | Node): authv1.Node {
  return {
    id: n.id,
    name: n.name,
    addr: n.addr,
    labels: n.labels,
    createTime: n.createdAt,
    joinTime: n.joinedAt ?? undefined,
    lastSeenTime: n.lastSeenAt ?? undefined,
    certExpireTime: n.certExpiresAt ?? undefined,
    hostKeyFingerprint: n.hostKeyFingerprint ?? '',
    logins: 'logins' in n && n.logins ? n.logins : [],
  };
}

/** Thin handlers for NodeService; NodeManager authorizes (admins, or bots for reading) and audits. */
export function nodeHandlers(nodes: NodeManager): ServiceImplementation<typeof authv1.NodeServiceDefinition, AuthContext> {
  return {
    async addNode(req, ctx) {
      const r = await nodes.add(requirePrincipal(ctx.principal), { name: req.name, addr: req.addr, labels: req.labels, tokenTtlMs: req.tokenTtlSeconds * 1000, requestId: ctx.requestId });
      ctx.log.info('node added', { node: r.node.name, node_id: r.node.id, tenant_id: r.node.tenantId });
      return { node: nodeToProto(r.node), joinToken: r.joinToken, joinTokenExpireTime: r.joinTokenExpiresAt };
    },
    async getNode(req, ctx) {
      return nodeToProto(await nodes.get(requirePrincipal(ctx.principal), req.name));
    },
    async listNodes(req, ctx) {
      const r = await nodes.list(requirePrincipal(ctx.principal), { pageSize: req.pageSize, pageToken: req.pageToken });
      return { nodes: r.nodes.map(nodeToProto), nextPageToken: r.nextPageToken };
    },
    async deleteNode(req, ctx) {
      await nodes.delete(requirePrincipal(ctx.principal), req.name, ctx.requestId);
      ctx.log.info('node removed', { node: req.name });
      return {};
    },
    async explainAccess(req, ctx) {
      const e = await nodes.explainAccess(requirePrincipal(ctx.principal), { bot: req.bot, node: req.node, login: req.login });
      return {
        allowed: e.allowed,
        reason: e.reason,
        decidedByRole: e.lock ? '' : (e.decidedBy?.role ?? ''),
        decidedByRule: e.lock ? 'lock' : (e.decidedBy?.rule ?? ''),
        roles: e.roles.map((r) => ({ role: r.role, allowSelectsNode: r.allowSelectsNode, denySelectsNode: r.denySelectsNode, allowsLogin: r.allowsLogin, deniesLogin: r.deniesLogin })),
      };
    },
  };
}
