import { isMeziteError } from '@mezite/identity';
import type { Argv } from 'yargs';
import { browserLogin, openInBrowser } from '../browser-login';
import type { CliContext } from '../cli-context';
import { connect, type GlobalOptions } from '../connection';
import { rfc3339, type OutputFormat } from '../output';
import { readSessionFile, removeSessionFile, writeSessionFile } from '../session-file';

type LoginArgs = GlobalOptions & { output: OutputFormat; tenant: string; browser: boolean };

/**
 * `mezctl login`: a person signs in with the tenant's identity provider (authorization
 * code + PKCE through a browser) and gets a session, saved in `~/.mezite/session.json`
 * (`MEZITE_HOME`) and used by later commands against the same auth server.
 */
export function loginCommand(ctx: CliContext) {
  return {
    command: 'login',
    describe: "Sign in as a person through the tenant's identity provider (opens a browser)",
    builder: (y: Argv<GlobalOptions & { output: OutputFormat }>) =>
      y
        .option('tenant', { type: 'string', default: '', describe: 'Tenant domain to sign in to (default: the default tenant)' })
        .option('browser', { type: 'boolean', default: true, describe: 'Open the sign-in page in a browser; --no-browser only prints its URL' }),
    handler: async (argv: LoginArgs) => {
      await ctx.withClients(
        argv,
        async (c, target) => {
          const cfg = await c.sessions.getLoginConfig({ tenant: argv.tenant });
          const json = argv.output === 'json';
          const { idToken, nonceSecret } = await browserLogin({
            issuer: cfg.issuer,
            clientId: cfg.clientId,
            scopes: cfg.scopes,
            // The URL goes where people look; with --output json stdout stays one document.
            show: (url) => (json ? ctx.note(`open this URL in a browser to sign in: ${url}`) : ctx.print(`Open this URL in a browser to sign in:\n\n  ${url}\n\n`)),
            ...(argv.browser ? { open: openInBrowser } : {}),
          });
          const r = await c.sessions.createSession({ idToken, nonce: nonceSecret, tenant: argv.tenant });
          const expiresAt = rfc3339(r.expireTime);
          writeSessionFile(ctx.env, { version: 1, auth_server: target.address, ca_cert: target.caCertPem, token: r.sessionToken, expires_at: expiresAt, principal: r.principal });
          if (json) ctx.printJson({ principal: r.principal, name: r.name, expires_at: expiresAt, acr: r.acr, amr: r.amr });
          else ctx.print(`Signed in as ${r.name} (${r.principal}), session expires ${expiresAt}\n`);
        },
        // Signing in needs no credential; the session being replaced is not sent.
        { anonymous: true },
      );
    },
  };
}

/** `mezctl logout`: ends the saved session on its auth server and removes the file. */
export function logoutCommand(ctx: CliContext) {
  return {
    command: 'logout',
    describe: 'End the session of mezctl login',
    builder: (y: Argv<GlobalOptions & { output: OutputFormat }>) => y,
    handler: async () => {
      let s;
      try {
        s = readSessionFile(ctx.env);
      } catch {
        // Not a session we can end; removing it is all logout can do.
        removeSessionFile(ctx.env);
        ctx.print('Removed an unreadable session file.\n');
        return;
      }
      if (!s) {
        ctx.print('Not signed in.\n');
        return;
      }
      const c = connect({ address: s.auth_server, caCertPem: s.ca_cert, token: s.token });
      try {
        await c.sessions.deleteSession({}, c.auth());
      } catch (err) {
        // Expired or already ended: nothing left to end on the server. Anything else
        // (server down) keeps the file, so logout can be run again.
        if (!isMeziteError(err, 'Unauthenticated')) throw err;
      } finally {
        c.close();
      }
      removeSessionFile(ctx.env);
      ctx.print(`Signed out (${s.principal}).\n`);
    },
  };
}
