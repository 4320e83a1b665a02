/** What the person types into the provider's forms. */
export interface Person {
  email: string;
  password: string;
}

/** How a browserless sign-in went: every page seen, and where the provider sent the browser back. */
export interface BrowserlessResult {
  /** The redirect back to the application (the CLI's loopback callback). */
  callbackUrl: string;
  /** The callback's HTTP status, after it was delivered. */
  callbackStatus: number;
  /** `METHOD url → status` per request, for failure messages. */
  trail: string[];
  /** The last HTML page the provider showed. */
  lastPage: string;
}

const decode = (s: string) =>
  s
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCharCode(parseInt(n, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const attr = (tag: string, name: string) => {
  const m = new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i').exec(tag);
  return m ? decode(m[2] ?? m[3] ?? '') : undefined;
};

/** The first form of a page: where it posts, and its fields filled in as a person would. */
function fillFirstForm(html: string, person: Person): { action: string; method: string; body: URLSearchParams } | undefined {
  const form = /<form\b[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return undefined;
  const body = new URLSearchParams();
  for (const [input] of form[1]?.matchAll(/<input\b[^>]*>/gi) ?? []) {
    const name = attr(input, 'name');
    if (!name) continue;
    const type = (attr(input, 'type') ?? 'text').toLowerCase();
    if (type === 'password') body.set(name, person.password);
    else if (type === 'email' || /^(email|login|username)$/i.test(name)) body.set(name, person.email);
    else body.set(name, attr(input, 'value') ?? '');
  }
  const open = /<form\b[^>]*>/i.exec(form[0])?.[0] ?? '';
  return { action: attr(open, 'action') ?? '', method: (attr(open, 'method') ?? 'get').toUpperCase(), body };
}

/**
 * Plays a person's browser through an OpenID Provider's sign-in without a browser:
 * follows redirects by hand, carries the provider's cookies, fills and submits each
 * page's first form (the login form, then consent), until the provider redirects to
 * another origin — the application's redirect URI — which it then requests, as a
 * browser would, so the waiting application receives the code. Bounded in steps and
 * time per request.
 */
export async function signInWithoutBrowser(authorizationUrl: string, person: Person, o: { maxSteps?: number } = {}): Promise<BrowserlessResult> {
  const provider = new URL(authorizationUrl).origin;
  const cookies = new Map<string, string>();
  const trail: string[] = [];
  let lastPage = '';
  let url = authorizationUrl;
  let method = 'GET';
  let body: URLSearchParams | undefined;
  for (let step = 0; step < (o.maxSteps ?? 20); step++) {
    if (new URL(url).origin !== provider) {
      const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(15_000) });
      await res.arrayBuffer();
      trail.push(`GET ${url} → ${res.status}`);
      return { callbackUrl: url, callbackStatus: res.status, trail, lastPage };
    }
    const headers: Record<string, string> = {};
    if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, { method, headers, redirect: 'manual', signal: AbortSignal.timeout(15_000), ...(body ? { body: body.toString() } : {}) });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0] ?? '';
      const eq = pair.indexOf('=');
      if (eq > 0) cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
    }
    trail.push(`${method} ${url} → ${res.status}`);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.arrayBuffer();
      url = new URL(location, url).href;
      method = 'GET';
      body = undefined;
      continue;
    }
    lastPage = await res.text();
    const form = fillFirstForm(lastPage, person);
    if (!form || res.status >= 400) throw new Error(`the provider stopped at a page without a way on (HTTP ${res.status}):\n${trail.join('\n')}\n${lastPage}`);
    url = new URL(form.action || url, url).href;
    method = form.method;
    body = form.method === 'POST' ? form.body : undefined;
    if (form.method === 'GET') url = `${url}${url.includes('?') ? '&' : '?'}${form.body.toString()}`;
  }
  throw new Error(`no redirect back to the application within ${o.maxSteps ?? 20} steps:\n${trail.join('\n')}`);
}
