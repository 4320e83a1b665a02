/**
 * Test support: one page of `items` after the item whose key is `pageToken`, and the
 * token of the next page ('' on the last), as the fake auth server's list RPCs page.
 */
export function page<T>(items: T[], key: (t: T) => string, pageToken: string, size: number): { items: T[]; next: string } {
  const start = pageToken ? items.findIndex((t) => key(t) === pageToken) + 1 : 0;
  const out = items.slice(start, start + size);
  const last = out[out.length - 1];
  return { items: out, next: start + size < items.length && last ? key(last) : '' };
}
