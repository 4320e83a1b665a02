/**
 * Keyset pagination by name, shared by every list of the auth-server: the page token is
 * the last name of the previous page (base64url), so pages stay stable while items are
 * added or removed.
 */
export async function pageByName<T>(
  req: { pageSize: number; pageToken: string },
  fetch: (opts: { limit: number; afterName?: string }) => Promise<T[]>,
  nameOf: (t: T) => string,
): Promise<{ items: T[]; nextPageToken: string }> {
  const limit = req.pageSize > 0 ? Math.min(req.pageSize, 1000) : 100;
  const afterName = req.pageToken ? Buffer.from(req.pageToken, 'base64url').toString('utf8') : undefined;
  const items = await fetch({ limit: limit + 1, ...(afterName ? { afterName } : {}) });
  const page = items.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page, nextPageToken: items.length > limit && last ? Buffer.from(nameOf(last)).toString('base64url') : '' };
}
