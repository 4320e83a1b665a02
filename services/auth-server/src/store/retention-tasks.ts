import type { RetentionTask } from '@mezite/platform';
import type { ExpiredRows } from '../domain/retention';

/** The auth-server's stores whose rows end; audit records are not among them, ever. */
export interface AuthRetentionStores {
  challenges: ExpiredRows;
  sessions: ExpiredRows;
  joinTokens: ExpiredRows;
  /** Uses of platform ID tokens (delegated joins), kept until the token expires. */
  idTokenUses?: ExpiredRows;
  revocations: ExpiredRows;
  instances: ExpiredRows;
}

/** What the auth-server's retention job deletes, table by table (names are the log's). */
export function authRetentionTasks(s: AuthRetentionStores): RetentionTask[] {
  const task = (name: string, store: ExpiredRows): RetentionTask => ({ name, deleteExpired: (before, limit) => store.deleteExpired(before, limit) });
  return [
    task('auth.renewal_challenges', s.challenges),
    task('auth.sessions', s.sessions),
    task('auth.join_tokens', s.joinTokens),
    ...(s.idTokenUses ? [task('auth.join_id_token_uses', s.idTokenUses)] : []),
    task('auth.revocations', s.revocations),
    task('auth.bot_instance_generations', s.instances),
  ];
}
