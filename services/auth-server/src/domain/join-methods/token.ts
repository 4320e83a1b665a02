import { invalidArgument } from '@mezite/identity';
import { refused } from '../refusal';
import type { JoinMethod } from './join-method';

/**
 * The `token` method: a one-time `tok-bot-…` secret minted by `mezctl bots add` or
 * `bots add-instance` and redeemed by JoinManager in the transaction that creates the
 * instance (seed 002). It has no provision resource: the secret is its own resource,
 * stored hashed in `auth.join_tokens`, so a `kind: join_token` resource cannot choose it.
 */
export const tokenJoinMethod: JoinMethod = {
  name: 'token',
  checkResource() {
    throw invalidArgument('spec.join_method: "token" is not a resource: one-time tokens are minted with mezctl bots add-instance');
  },
  verify() {
    return Promise.reject(refused('invalid join', 'token method has no resource'));
  },
};
