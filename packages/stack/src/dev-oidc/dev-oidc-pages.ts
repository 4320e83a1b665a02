/** HTML-escapes text for element content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Mezite development sign-in</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:48px 16px}
main{max-width:340px;margin:0 auto;background:#fff;border-radius:6px;padding:24px 28px;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.3em;font-weight:500;margin:0 0 16px}
input{display:block;width:100%;box-sizing:border-box;margin:0 0 12px;padding:8px;font-size:1em}
button{padding:8px 16px;font-size:1em;margin-right:8px}
.note{color:#666;font-size:.85em}.error{color:#b00020}
</style>
</head>
<body><main>
<h1>${esc(title)}</h1>
${body}
<p class="note">Mezite's development identity provider. Not for production use.</p>
</main></body>
</html>
`;
}

/** The sign-in form; posts `email` and `password` to `/interaction/<uid>/login`. */
export function loginPage(uid: string, email: string, error?: string): string {
  return layout(
    'Sign in',
    `${error ? `<p class="error">${esc(error)}</p>\n` : ''}<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
<input type="email" name="email" placeholder="Email" value="${esc(email)}" required autofocus>
<input type="password" name="password" placeholder="Password" required>
<button type="submit">Sign in</button>
</form>
<p class="note">Demo account: demo@mezite.dev, password demo.</p>`,
  );
}

/** The consent form: allow posts to `/interaction/<uid>/confirm`, cancel to `…/abort`. */
export function consentPage(uid: string, clientId: string, scope: string): string {
  return layout(
    'Authorize',
    `<p><strong>${esc(clientId)}</strong> asks to sign you in${scope ? ` (${esc(scope)})` : ''}.</p>
<form method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>`,
  );
}

/** An error page with the OAuth2 error fields, self-contained (no remote fonts or scripts). */
export function errorPage(out: Record<string, unknown>): string {
  return layout(
    'Sign-in failed',
    Object.entries(out)
      .map(([k, v]) => `<p><strong>${esc(k)}</strong>: ${esc(String(v))}</p>`)
      .join('\n'),
  );
}
