import type { KeyRing } from '@mezite/identity';
import type { Logger } from '@mezite/platform';

/** A store whose rows record the pepper their hash is under. */
export interface PepperStamped {
  stampPepper(pepperId: string): Promise<number>;
}

/**
 * Gives the rows hashed before peppers had ids (pepper_id NULL) the current pepper's id,
 * but only when no previous pepper is configured: then the current one is the only key
 * that could ever verify them, so the id is right for every row that can still be used
 * (a row under some forgotten key is dead either way). With previous peppers the key of
 * such a row is unknown until it is used, and it stays NULL (shown as `unknown` by
 * `keys status`) until then. Idempotent and safe with replicas starting at once.
 */
export async function stampUnversionedRows(o: { peppers: KeyRing; stores: Record<string, PepperStamped>; log: Logger }): Promise<void> {
  if (o.peppers.previous.length > 0) return;
  for (const [what, store] of Object.entries(o.stores)) {
    const n = await store.stampPepper(o.peppers.current.id);
    if (n > 0) o.log.info('recorded the pepper id on rows hashed before versioning', { what, rows: n, pepper_id: o.peppers.current.id });
  }
}
