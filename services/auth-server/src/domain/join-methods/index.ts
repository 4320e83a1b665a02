import { BoundKeypairJoinMethod } from './bound-keypair';
import { GithubJoinMethod } from './github';
import { GitlabJoinMethod } from './gitlab';
import { KubernetesJoinMethod } from './kubernetes';
import type { IdTokenVerifier } from './id-token-verifier';
import type { JoinMethod } from './join-method';
import { tokenJoinMethod } from './token';

export type { JoinAttempt, JoinMethod, JoinResource, VerifiedJoin } from './join-method';
export { IdTokenVerifier, INVALID_JOIN } from './id-token-verifier';

/** Every join method by name: the one place a new method is registered. */
export function joinMethods(o: { verifier: IdTokenVerifier; secretHash?: (plaintext: string) => Buffer | Promise<Buffer> }): ReadonlyMap<string, JoinMethod> {
  const all: JoinMethod[] = [tokenJoinMethod, new GithubJoinMethod(o.verifier), new GitlabJoinMethod(o.verifier), new KubernetesJoinMethod(o.verifier), new BoundKeypairJoinMethod(o.secretHash ? { secretHash: o.secretHash } : {})];
  return new Map(all.map((m) => [m.name, m]));
}
