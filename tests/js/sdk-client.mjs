// Drives the official MCP TypeScript SDK client against a running Lanyard: discovery, client
// registration (DCR, or a client metadata document), sign-in and consent, code exchange, two
// tool calls, and a refresh that the SDK performs on its own after a 401.
//
// The browser half is plain HTTP: fetch with manual redirects and a cookie jar, scraping the
// portal's forms the way tests/e2e/support.rs does.
//
//   MCP_URL=http://127.0.0.1:PORT/mcp USER_EMAIL=.. USER_PASSWORD=.. node sdk-client.mjs [--mode dcr|cimd]
//
// `--mode cimd` serves a client metadata document from 127.0.0.1 over http, so the server must
// run with LANYARD_CIMD_ALLOW_LOOPBACK=true.
//
// Prints one JSON line with what happened; exits non-zero with a message on any failure.

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { need, fail, check } from './kit.mjs';

const { values: args } = parseArgs({ options: { mode: { type: 'string', default: 'dcr' } } });
const MCP_URL = need('MCP_URL');
const EMAIL = need('USER_EMAIL');
const PASSWORD = need('USER_PASSWORD');
// Nothing listens here: the code is read from the Location header that points at it.
const REDIRECT_URI = 'http://127.0.0.1:33418/callback';
const CLIENT_NAME = args.mode === 'cimd' ? 'Lanyard SDK test (CIMD)' : 'Lanyard SDK test (DCR)';

// Every request the SDK makes goes through here, so the test can see that a refresh happened.
const requests = [];
async function recordingFetch(input, init = {}) {
  const url = String(input instanceof Request ? input.url : input);
  const method = init.method ?? (input instanceof Request ? input.method : 'GET');
  const entry = { method, url };
  if (url.endsWith('/oauth/token') && init.body) {
    entry.grant_type = new URLSearchParams(String(init.body)).get('grant_type');
  }
  const response = await fetch(input, init);
  entry.status = response.status;
  requests.push(entry);
  return response;
}

/** An in-memory OAuthClientProvider whose browser step signs in over HTTP. */
class TestProvider {
  constructor({ preRegistered } = {}) {
    this._client = preRegistered;
    this._tokens = undefined;
    this._verifier = undefined;
    this._discovery = undefined;
    this._state = undefined;
    this.callback = undefined; // the query the server sent the browser back with
  }
  get redirectUrl() {
    return REDIRECT_URI;
  }
  get clientMetadata() {
    return {
      client_name: CLIENT_NAME,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this._state = randomBytes(16).toString('base64url');
    return this._state;
  }
  clientInformation() {
    return this._client;
  }
  saveClientInformation(info) {
    this._client = info;
  }
  tokens() {
    return this._tokens;
  }
  saveTokens(tokens) {
    this._tokens = tokens;
  }
  saveCodeVerifier(v) {
    this._verifier = v;
  }
  codeVerifier() {
    return this._verifier;
  }
  saveDiscoveryState(s) {
    this._discovery = s;
  }
  discoveryState() {
    return this._discovery;
  }
  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') this._client = undefined;
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this._verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this._discovery = undefined;
  }
  async redirectToAuthorization(url) {
    this.authorizationUrl = url.href;
    this.callback = await signInAndAllow(url);
  }
}

/** A cookie jar and a fetch that never follows redirects: one hop at a time, like a browser. */
class Browser {
  constructor() {
    this.cookies = new Map();
  }
  async request(url, init = {}) {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const r = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of r.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (!value || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const location = r.headers.get('location');
    return { status: r.status, location: location && new URL(location, url).href, body: await r.text(), url };
  }
  get(url) {
    return this.request(url);
  }
  post(url, form) {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  }
}

function attr(tag, name) {
  const m = tag.match(new RegExp(`\\b${name}="([^"]*)"`));
  return m && m[1].replaceAll('&amp;', '&');
}

function hidden(html, name) {
  for (const tag of html.match(/<input\b[^>]*>/g) ?? []) {
    if (attr(tag, 'name') === name) return attr(tag, 'value');
  }
  return null;
}

function formAction(html, base) {
  const tag = html.match(/<form\b[^>]*method="post"[^>]*>/i)?.[0];
  check(tag, `no POST form on ${base}`);
  return new URL(attr(tag, 'action') ?? '', base).href;
}

/** GET authorize, sign in, allow; returns the query the browser was sent back to the client with. */
async function signInAndAllow(authorizationUrl) {
  const browser = new Browser();
  let page = await browser.get(authorizationUrl);
  const seen = [];
  for (let hop = 0; hop < 8; hop++) {
    check(page.location, `flow stopped at ${page.url} with ${page.status}: ${page.body.slice(0, 400)}`);
    if (page.location.startsWith(REDIRECT_URI)) {
      return { pages: seen, ...Object.fromEntries(new URL(page.location).searchParams) };
    }
    const url = page.location;
    check(url.startsWith(new URL(MCP_URL).origin), `redirected off the server to ${url}`);
    page = await browser.get(url);
    if (page.status !== 200) continue;
    const path = new URL(url).pathname;
    seen.push(path);
    const csrf = hidden(page.body, 'csrf_token');
    check(csrf, `no csrf_token on ${url}`);
    const request = hidden(page.body, 'request');
    const action = formAction(page.body, url);
    if (path === '/login') {
      check(/name="email"/.test(page.body) && /name="password"/.test(page.body), 'login form lacks email/password');
      page = await browser.post(action, { email: EMAIL, password: PASSWORD, csrf_token: csrf, ...(request && { request }) });
    } else if (path === '/consent') {
      check(page.body.includes(CLIENT_NAME), `consent page does not name the app "${CLIENT_NAME}"`);
      check(/name="decision" value="allow"/.test(page.body), 'consent page has no allow button');
      page = await browser.post(action, { decision: 'allow', csrf_token: csrf, ...(request && { request }) });
    } else {
      throw new Error(`unexpected page ${url}`);
    }
    check(page.status === 303, `POST ${action} answered ${page.status}, not 303: ${page.body.slice(0, 400)}`);
  }
  throw new Error('too many redirects in the browser flow');
}

function transportFor(provider) {
  return new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: recordingFetch });
}

async function connect(provider) {
  const client = new Client({ name: 'lanyard-sdk-test', version: '1.0.0' });
  await client.connect(transportFor(provider));
  return client;
}

async function ping(client) {
  const r = await client.callTool({ name: 'ping', arguments: {} });
  check(!r.isError, `ping failed: ${JSON.stringify(r)}`);
  const s = r.structuredContent;
  check(s && s.sub, `ping returned no sub: ${JSON.stringify(r)}`);
  return s;
}

function jwtClaims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

/** Serves a client metadata document on 127.0.0.1 and counts how often it was fetched. */
async function serveClientMetadata() {
  const server = http.createServer((req, res) => {
    server.fetches += 1;
    if (req.url !== '/client.json') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ client_id: server.clientId, ...new TestProvider().clientMetadata }));
  });
  server.fetches = 0;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.clientId = `http://127.0.0.1:${server.address().port}/client.json`;
  return server;
}

async function main() {
  let cimd;
  let provider;
  if (args.mode === 'cimd') {
    // The SDK only offers a clientMetadataUrl that is https; a loopback test server can only be
    // http, so the URL is handed over as an already known client_id instead. Everything after
    // that (authorize, token, refresh) is the SDK's own code with a URL client_id.
    cimd = await serveClientMetadata();
    provider = new TestProvider({ preRegistered: { client_id: cimd.clientId } });
  } else if (args.mode === 'dcr') {
    provider = new TestProvider();
  } else {
    throw new Error(`unknown --mode ${args.mode}`);
  }

  // 1. First connect: 401, discovery, registration, redirect to the authorization page.
  let redirected = false;
  try {
    await connect(provider);
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
    redirected = true;
  }
  check(redirected, 'the first connect did not ask for authorization');
  const cb = provider.callback;
  check(cb, 'redirectToAuthorization was not called');
  check(!cb.error, `authorization failed: ${cb.error} ${cb.error_description ?? ''}`);
  check(cb.code, `no code in the callback: ${JSON.stringify(cb)}`);
  check(cb.state === provider._state, `state mismatch: sent ${provider._state}, got ${cb.state}`);
  const issuer = provider._discovery?.authorizationServerMetadata?.issuer;
  check(issuer, 'the SDK did not discover the authorization server metadata');
  check(cb.iss === issuer, `iss mismatch: expected ${issuer}, got ${cb.iss}`);
  const authorize = new URL(provider.authorizationUrl).searchParams;
  const clientId = provider._client?.client_id;
  check(clientId, 'no client_id after registration');
  if (cimd) check(cimd.fetches > 0, 'the server never fetched the client metadata document');

  // 2. The SDK exchanges the code.
  const transport = transportFor(provider);
  await transport.finishAuth(cb.code);
  const first = provider._tokens;
  check(first?.access_token, 'no access token after the code exchange');
  check(first.refresh_token, `no refresh token after the code exchange (scope ${first.scope})`);

  // 3. Reconnect with the token: list tools, call ping.
  const client = await connect(provider);
  const { tools } = await client.listTools();
  const pingTool = tools.find((t) => t.name === 'ping');
  check(pingTool, `tools/list has no ping: ${JSON.stringify(tools)}`);
  const schemes = pingTool.securitySchemes ?? pingTool._meta?.securitySchemes;
  check(Array.isArray(schemes) && schemes.some((s) => s.type === 'oauth2'), `ping has no oauth2 securitySchemes: ${JSON.stringify(pingTool)}`);
  const before = await ping(client);
  check(before.aud === MCP_URL, `aud ${before.aud} is not the resource ${MCP_URL}`);
  check(before.client_id === clientId, `client_id ${before.client_id} is not ${clientId}`);

  // 4. Force a refresh: spoil the stored access token so the server answers 401 and the SDK
  // spends its refresh token, then retries the call.
  const refreshesBefore = requests.filter((r) => r.grant_type === 'refresh_token').length;
  const spoiled = first.access_token.slice(0, -4) + (first.access_token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  provider._tokens = { ...first, access_token: spoiled };
  const after = await ping(client);
  const refreshes = requests.filter((r) => r.grant_type === 'refresh_token');
  check(refreshes.length === refreshesBefore + 1, `expected one refresh_token request, saw ${JSON.stringify(refreshes)}`);
  check(refreshes.at(-1).status === 200, `the refresh answered ${refreshes.at(-1).status}`);
  const second = provider._tokens;
  check(second.access_token !== first.access_token && second.access_token !== spoiled, 'the access token did not change');
  check(second.refresh_token && second.refresh_token !== first.refresh_token, 'the refresh token was not rotated');
  check(after.sub === before.sub, `sub changed across the refresh: ${before.sub} -> ${after.sub}`);
  await client.close();
  cimd?.close();

  const claims = jwtClaims(second.access_token);
  const result = {
    mode: args.mode,
    client_id: clientId,
    issuer,
    iss: cb.iss,
    authorize_scope: authorize.get('scope'),
    authorize_resource: authorize.get('resource'),
    portal_pages: cb.pages,
    sub: before.sub,
    email: before.email,
    aud: before.aud,
    scope: before.scope,
    token_scope: first.scope,
    refreshed: true,
    refresh_rotated: true,
    sub_after_refresh: after.sub,
    scope_after_refresh: after.scope,
    access_token_claims: Object.keys(claims).sort(),
    cimd_document_fetches: cimd?.fetches,
    token_requests: requests.filter((r) => r.grant_type).map((r) => `${r.grant_type}:${r.status}`),
    requests: requests.length,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

const timer = setTimeout(() => fail('timed out after 60 s'), 60_000);
timer.unref();
main().then(
  () => process.exit(0),
  (e) => fail(e?.stack ?? String(e)),
);
