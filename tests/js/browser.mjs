// Drives a real Chromium (Debian's /usr/bin/chromium through playwright-core) through Lanyard's
// portal: sign up on /register, read the consent page, allow, and land on the app's redirect
// URI with code/state/iss; then a second visit signs in on /login and denies.
//
//   MCP_URL=http://127.0.0.1:PORT/mcp USER_EMAIL=.. USER_PASSWORD=.. node browser.mjs
//
// USER_EMAIL/USER_PASSWORD name an existing account (used by the deny run); the allow run signs
// up a fresh one. CHROMIUM overrides the browser path. Screenshots of each page go to a temp
// folder whose path is printed. Prints one JSON line; exits non-zero on any failure.

import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

import { need, fail, check, launchChromium, screenshotsDir, callbackServer, pkce, json } from './kit.mjs';

const MCP_URL = need('MCP_URL');
const EMAIL = need('USER_EMAIL');
const PASSWORD = need('USER_PASSWORD');
const ORIGIN = new URL(MCP_URL).origin;
const CLIENT_NAME = 'Lanyard Browser Test';
const SCOPES = ['read', 'write', 'openid', 'email', 'offline_access'];
// What each scope must say on the consent page, in words a person understands.
const IN_WORDS = {
  read: /read/i,
  write: /(create|change|delete|write)/i,
  openid: /who you are/i,
  email: /email/i,
  offline_access: /(stay|connected|offline)/i,
};

function authorizeUrl(meta, clientId, redirectUri, state, challenge) {
  const u = new URL(meta.authorization_endpoint);
  u.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    scope: SCOPES.join(' '),
    resource: MCP_URL,
  }).toString();
  return u.href;
}

/** Checks the consent page: it names the app, each scope in words, and offers allow and deny. */
async function checkConsent(page) {
  check(new URL(page.url()).pathname === '/consent', `expected the consent page, at ${page.url()}`);
  const heading = await page.getByRole('heading', { level: 1 }).innerText();
  check(heading.includes(CLIENT_NAME), `consent heading does not name the app: "${heading}"`);
  const items = await page.locator('ul.scopes li').allInnerTexts();
  for (const scope of SCOPES) {
    const item = items.find((t) => t.split('\n').map((l) => l.trim()).includes(scope));
    check(item, `consent page does not list scope ${scope}: ${JSON.stringify(items)}`);
    const words = item.split('\n').map((l) => l.trim()).filter((l) => l && l !== scope).join(' ');
    check(IN_WORDS[scope].test(words) && words.split(/\s+/).length >= 3, `scope ${scope} is not described in words: "${words}"`);
  }
  for (const decision of ['allow', 'deny']) {
    const n = await page.locator(`form button[type=submit][name=decision][value=${decision}]`).count();
    check(n === 1, `consent page has ${n} ${decision} buttons`);
  }
  check(await page.getByRole('button', { name: 'Allow' }).isVisible(), 'no visible Allow button');
  check(await page.getByRole('button', { name: 'Deny' }).isVisible(), 'no visible Deny button');
  // Double-clickjacking: Allow takes no click until it has been on screen for a moment.
  const allow = page.locator('form button[value=allow]');
  const arming = await allow.evaluate((b) => getComputedStyle(b).animationName);
  check(arming === 'arming', `the Allow button is not armed after a delay (animation "${arming}")`);
  await page.waitForTimeout(800);
  const armed = await allow.evaluate((b) => getComputedStyle(b).pointerEvents);
  check(armed === 'auto', `the Allow button still takes no clicks after the delay ("${armed}")`);
  return items.length;
}

async function main() {
  const shots = screenshotsDir();
  const app = await callbackServer();
  const meta = await json(`${ORIGIN}/.well-known/oauth-authorization-server`);
  const client = await json(meta.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: CLIENT_NAME,
      redirect_uris: [app.redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
    }),
  });

  const browser = await launchChromium();
  const result = { screenshots: shots, browser: browser.version(), client_id: client.client_id };
  try {
    // Allow run: a new person signs up from the sign-in page, then allows.
    {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const { verifier, challenge } = pkce();
      const state = randomBytes(12).toString('base64url');
      await page.goto(authorizeUrl(meta, client.client_id, app.redirectUri, state, challenge));
      check(new URL(page.url()).pathname === '/login', `authorize did not lead to /login but ${page.url()}`);
      check((await page.getByRole('heading', { level: 1 }).innerText()).includes('Sign in'), 'the sign-in page has no "Sign in" heading');
      check((await page.locator('body').innerText()).includes(CLIENT_NAME), 'the sign-in page does not name the app');
      await page.screenshot({ path: join(shots, '1-login.png'), fullPage: true });

      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.waitForURL((u) => u.pathname === '/register');
      await page.screenshot({ path: join(shots, '2-register.png'), fullPage: true });
      const newEmail = `browser-${randomBytes(4).toString('hex')}@example.com`;
      await page.getByLabel('Email').fill(newEmail);
      await page.getByLabel('Password').fill('a long browser password');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL((u) => u.pathname === '/consent');
      result.scopes_listed = await checkConsent(page);
      check((await page.locator('body').innerText()).includes(newEmail), 'the consent page does not say who is signed in');
      await page.screenshot({ path: join(shots, '3-consent.png'), fullPage: true });

      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((u) => u.href.startsWith(app.redirectUri));
      const back = Object.fromEntries(new URL(page.url()).searchParams);
      check(app.hits.length === 1, `the app saw ${app.hits.length} callbacks`);
      check(back.code && app.hits[0].code === back.code, `no code in the callback: ${page.url()}`);
      check(back.state === state, `state ${back.state} is not ${state}`);
      check(back.iss === meta.issuer, `iss ${back.iss} is not ${meta.issuer}`);

      // The code is real: it buys tokens for the account just created.
      const tokens = await json(meta.token_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: back.code,
          code_verifier: verifier,
          redirect_uri: app.redirectUri,
          client_id: client.client_id,
          resource: MCP_URL,
        }).toString(),
      });
      const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString());
      check(claims.email === newEmail, `token email ${claims.email} is not ${newEmail}`);
      Object.assign(result, { signed_up: newEmail, sub: claims.sub, token_scope: tokens.scope, allow: { ...back, code: '…' } });
      await context.close();
    }

    // Deny run: an existing person signs in, then denies.
    {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const state = randomBytes(12).toString('base64url');
      await page.goto(authorizeUrl(meta, client.client_id, app.redirectUri, state, pkce().challenge));
      check(new URL(page.url()).pathname === '/login', `authorize did not lead to /login but ${page.url()}`);
      await page.getByLabel('Email').fill(EMAIL);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((u) => u.pathname === '/consent');
      await checkConsent(page);
      await page.screenshot({ path: join(shots, '4-consent-existing-user.png'), fullPage: true });
      await page.getByRole('button', { name: 'Deny' }).click();
      await page.waitForURL((u) => u.href.startsWith(app.redirectUri));
      const back = Object.fromEntries(new URL(page.url()).searchParams);
      check(back.error === 'access_denied', `deny gave error=${back.error}: ${page.url()}`);
      check(!back.code, 'a denied request carried a code');
      check(back.state === state, `state ${back.state} is not ${state}`);
      check(back.iss === meta.issuer, `iss ${back.iss} is not ${meta.issuer}`);
      result.deny = back;
      await context.close();
    }
  } finally {
    await browser.close();
    app.server.close();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

const timer = setTimeout(() => fail('timed out after 90 s'), 90_000);
timer.unref();
main().then(
  () => process.exit(0),
  (e) => fail(e?.stack ?? String(e)),
);
