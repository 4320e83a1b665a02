import { grantsFromClaims, loginsForNode } from '@mezite/identity';
import { CLAIMS_EXTENSION, parseCertificate } from '@mezite/ssh';
import { readNodeFile } from './node-agent';

/**
 * `mezd authorized-principals --node-file=FILE %u %t %k`, sshd's
 * AuthorizedPrincipalsCommand. sshd has already checked the certificate's signature
 * against TrustedUserCAKeys, its validity and the KRL; this decides, offline, whether
 * the certificate is of a bot of this node's tenant and its roles (carried in the
 * certificate) allow login `user` on a node with this node's labels: it prints `user`
 * if so, nothing otherwise. Anything it cannot read —
 * the node file, the certificate, the grants — prints nothing, so the login is refused
 * (sshd then tries no other principal source).
 */
export function authorizedPrincipals(input: { nodeFile: string; user: string; keyType: string; key: string }): { principals: string[]; reason: string } {
  const node = readNodeFile(input.nodeFile);
  if (!node) return { principals: [], reason: `cannot read the node file ${input.nodeFile}` };
  if (!input.keyType.endsWith('-cert-v01@openssh.com')) return { principals: [], reason: 'not a certificate' };
  let cert;
  try {
    cert = parseCertificate(`${input.keyType} ${input.key}`);
  } catch (err) {
    return { principals: [], reason: `unreadable certificate: ${(err as Error).message}` };
  }
  if (cert.type !== 'user') return { principals: [], reason: 'not a user certificate' };
  if (!node.tenant) return { principals: [], reason: `the node file ${input.nodeFile} names no tenant (written by an older mezd node): restart mezd node to renew it` };
  let claims: { grants?: unknown; tenant?: unknown };
  try {
    claims = JSON.parse(cert.extensions[CLAIMS_EXTENSION] ?? '') as { grants?: unknown; tenant?: unknown };
  } catch {
    return { principals: [], reason: 'the certificate carries no Mezite grants' };
  }
  // The User CA signs for every tenant: only this node's tenant's bots may log in here.
  if (claims?.tenant !== node.tenant) return { principals: [], reason: `the certificate is not of a bot of this node's tenant` };
  const grants = grantsFromClaims(claims?.grants);
  if (!grants) return { principals: [], reason: 'the certificate carries no readable Mezite grants' };
  const logins = loginsForNode(grants, node.labels);
  if (!logins.includes(input.user)) return { principals: [], reason: `the roles allow ${logins.length ? logins.join(', ') : 'no login'} on ${node.name}, not ${input.user}` };
  if (!cert.principals.includes(input.user)) return { principals: [], reason: `${input.user} is not a principal of the certificate` };
  return { principals: [input.user], reason: 'allowed' };
}
