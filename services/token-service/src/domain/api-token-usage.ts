import { printable } from '@mezite/identity';
/**
 * Who presented an API token, as the auth-server saw it: the client's address (no
 * port) and its user agent or client name. Both come over the wire from the
 * auth-server and are cut again here (`presenterOf`).
 */
export interface ApiTokenPresenter {
  source: string;
  client: string;
}

/** How often one presenter used a token within one hour (the usage summary's row). */
export interface ApiTokenUsage {
  tokenId: string;
  /** Start of the hour (UTC). */
  hour: Date;
  /** Client address; OTHER_PRESENTER sums the presenters past the per-hour bound. */
  source: string;
  client: string;
  count: number;
  firstSeen: Date;
  lastSeen: Date;
}

/** Longest source address kept (an IPv6 address with zone fits). */
export const MAX_SOURCE_LENGTH = 64;
/** Longest user agent kept. */
export const MAX_CLIENT_LENGTH = 128;
/** The presenter standing for every one past the bound, and for a presenter not given. */
export const OTHER_PRESENTER = 'other';

/** A presenter as stored: printable, bounded; empty fields become `unknown`/``. */
export function presenterOf(p: { source?: string; client?: string } | undefined): ApiTokenPresenter {
  return { source: printable(p?.source ?? '', MAX_SOURCE_LENGTH) || 'unknown', client: printable(p?.client ?? '', MAX_CLIENT_LENGTH) };
}

/** The start of the UTC hour `at` is in. */
export function hourOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / 3_600_000) * 3_600_000);
}

/** Sorts usage newest hour first, most uses first within an hour. */
export function sortUsage<T extends Pick<ApiTokenUsage, 'hour' | 'count' | 'source' | 'client'>>(rows: T[]): T[] {
  return rows.sort((a, b) => b.hour.getTime() - a.hour.getTime() || b.count - a.count || a.source.localeCompare(b.source) || a.client.localeCompare(b.client));
}
