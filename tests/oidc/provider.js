// A real OpenID provider for pmoflow's single sign-on tests: panva's oidc-provider (OpenID certified),
// configured from the environment by tests/oidc/conftest.py, listening on 127.0.0.1 only.
//
//   OIDC_PORT          the port (the issuer is http://127.0.0.1:<port>)
//   OIDC_CLIENT        JSON: the one client (client_id, client_secret, redirect_uris, post_logout_redirect_uris,
//                      backchannel_logout_uri)
//   OIDC_ACCOUNTS      JSON: {"<login>": {"name": ..., "email": ..., "groups": [...]}}
//   OIDC_API_AUDIENCE  the audience of the JWT access tokens it issues for the resource of that name
//
// Beside the protocol's endpoints: accessible sign-in and sign-out pages of its own (no scripts, labelled
// fields), and POST /_test/accounts/<login> (JSON {"groups": [...]}) so a test can change a user's groups.
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const client = JSON.parse(process.env.OIDC_CLIENT);
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');
const apiAudience = process.env.OIDC_API_AUDIENCE || 'api://pmoflow';
const apiScopes = 'tasks:read tasks:complete instances:read instances:start definitions:read pmoflow.read';

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key-1', use: 'sig', alg: 'RS256' };

const page = (title, body) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
</head><body><main><h1>${title}</h1>${body}</main></body></html>`;
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const configuration = {
  clients: [{
    grant_types: ['authorization_code', 'client_credentials'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    backchannel_logout_session_required: true,
    ...client,
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['pmoflow-test-provider'] },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false, // the groups claim is in the ID token, as Keycloak, Entra ID and Okta put it
  pkce: { required: () => true }, // pmoflow must send a code challenge
  async findAccount(ctx, id) {
    if (!accounts[id]) return undefined;
    return {
      accountId: id,
      async claims() {
        const a = accounts[id];
        return { sub: id, preferred_username: id, name: a.name || id, email: a.email, email_verified: true,
          groups: a.groups || [] };
      },
    };
  },
  async loadExistingGrant(ctx) { // a first-party client: no consent screen
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const found = await ctx.oidc.provider.Grant.find(grantId);
      if (found) return found;
    }
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email groups');
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // its own SSRF guard refuses loopback addresses, where pmoflow's back-channel logout listens in these tests
  fetch: (url, options) => globalThis.fetch(url, { ...options, dispatcher: undefined }),
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    clientCredentials: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out of the test provider', '<p>You are signed out.</p>');
      },
      async logoutSource(ctx, form) {
        ctx.body = page('Sign out of the test provider', `${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`);
      },
    },
    resourceIndicators: {
      enabled: true,
      async getResourceServerInfo(ctx, resource) {
        if (resource !== apiAudience) throw new Provider.errors.InvalidTarget();
        return { scope: apiScopes, audience: apiAudience, accessTokenFormat: 'jwt', accessTokenTTL: 600,
          jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
};

const provider = new Provider(issuer, configuration);
const callback = provider.callback();
provider.on('backchannel.success', (ctx, client) => console.log(`back-channel logout sent to ${client.clientId}`));
provider.on('backchannel.error', (ctx, err) => console.log(`back-channel logout failed: ${err.message} ${err.cause?.message || ''} ${err.cause?.code || ''}`));
provider.on('server_error', (ctx, err) => console.log(`server error: ${err.stack}`));

async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'POST') {
    const login = new URLSearchParams(await body(req)).get('login');
    if (!accounts[login]) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(page('Sign in to the test provider', `<p role="alert">Unknown user ${escape(login)}.</p>`));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(page('Sign in to the test provider', `<form method="post" action="/interaction/${details.uid}">
<label for="login">User name</label> <input id="login" name="login" required>
<label for="password">Password</label> <input id="password" name="password" type="password">
<button type="submit">Sign in</button></form>`));
}

http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    const account = url.pathname.match(/^\/_test\/accounts\/([^/]+)$/);
    if (account && req.method === 'POST') {
      const id = decodeURIComponent(account[1]);
      accounts[id] = { ...(accounts[id] || {}), ...JSON.parse(await body(req)) };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(accounts[id]));
    } else if (url.pathname.startsWith('/interaction/')) {
      await interaction(req, res);
    } else {
      callback(req, res);
    }
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(err));
  }
}).listen(port, '127.0.0.1', () => console.log(`listening on ${issuer}`));
