// Drives a real Chromium (Debian's /usr/bin/chromium through playwright-core) with a
// virtual WebAuthn authenticator (DevTools' `WebAuthn` domain, over a CDP session) through
// Lanyard's passkeys: register one on /account/passkeys; connect an app with the password
// and then the passkey on the second step; sign out; connect another app with the passkey
// alone from the sign-in page (consent, code, token); a clone of the authenticator (an
// older signature count) is refused; remove the passkey, after which it signs no one in. The tokens' `amr` and `auth_time`, the authenticator's sign count, the
// page's labels, focus order and script policy are reported.
//
//   MCP_URL=http://localhost:PORT/mcp USER_EMAIL=.. USER_PASSWORD=.. node passkeys.mjs
//
// The issuer must be on `localhost`: Chromium refuses WebAuthn on an IP-address origin.
// Screenshots of each page go to a temp folder whose path is printed. Prints one JSON line;
// exits non-zero on any failure.

import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';

import { need, fail, check, launchChromium, screenshotsDir, callbackServer, json, focused } from './kit.mjs';

const MCP_URL = need('MCP_URL');
const EMAIL = need('USER_EMAIL');
const PASSWORD = need('USER_PASSWORD');
const ORIGIN = new URL(MCP_URL).origin;
// `all` (the default); `register`: only register a passkey and print the authenticator's
// credential; `required`: with that credential (CREDENTIAL, JSON) on a server under
// LANYARD_MFA=required, sign in by password and passkey, then by the passkey alone.
const MODE = process.argv.includes('--mode') ? process.argv[process.argv.indexOf('--mode') + 1] : 'all';

async function signOut(page) {
  await page.goto(`${ORIGIN}/account`);
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForURL((u) => u.pathname === '/login');
}

/** A registered client and a PKCE authorization URL for it. */
async function connect(meta, app, name) {
  const client = await json(meta.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: name,
      redirect_uris: [app.redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
    }),
  });
  const verifier = randomBytes(32).toString('base64url');
  const u = new URL(meta.authorization_endpoint);
  u.search = new URLSearchParams({
    response_type: 'code', client_id: client.client_id, redirect_uri: app.redirectUri,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256', state: 'st', scope: 'read', resource: MCP_URL,
  }).toString();
  return { client, verifier, url: u.href };
}

/** Allows on the consent page, then trades the code for the access token's claims. */
async function consentAndToken(page, meta, app, c) {
  await page.waitForURL((u) => u.pathname === '/consent');
  await page.waitForTimeout(800);
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL((u) => u.href.startsWith(app.redirectUri));
  const back = Object.fromEntries(new URL(page.url()).searchParams);
  check(back.code, `no code: ${page.url()}`);
  const tokens = await json(meta.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code: back.code, code_verifier: c.verifier,
      redirect_uri: app.redirectUri, client_id: c.client.client_id, resource: MCP_URL,
    }).toString(),
  });
  return JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString());
}

/** LANYARD_MFA=required: a passkey is the account's second factor, so the password leads
 * to the second step (not to enrolment), and a passkey alone is enough. */
async function required(page, cdp, authenticatorId, meta, app, result, shot) {
  const credential = JSON.parse(need('CREDENTIAL'));
  await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
  const c = await connect(meta, app, 'Passkey Required App');
  await page.goto(c.url);
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((u) => u.pathname !== '/login');
  result.after_password = new URL(page.url()).pathname;
  await shot('6-required-second-step.png');
  await page.getByRole('button', { name: 'Use a passkey' }).click();
  result.required_amr = (await consentAndToken(page, meta, app, c)).amr;
  await signOut(page);
  await page.context().clearCookies();
  await page.goto(`${ORIGIN}/login?next=/account`);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await page.waitForURL((u) => u.pathname !== '/login');
  result.passwordless_lands_on = new URL(page.url()).pathname;
}

async function main() {
  const shots = screenshotsDir();
  const app = await callbackServer();
  const meta = await json(`${ORIGIN}/.well-known/oauth-authorization-server`);
  const browser = await launchChromium();
  const result = { screenshots: shots, browser: browser.version() };
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const shot = (name) => page.screenshot({ path: join(shots, name), fullPage: true });
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
        hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
      },
    });

    if (MODE === 'required') {
      await required(page, cdp, authenticatorId, meta, app, result, shot);
      return result;
    }

    // Register, from the account page.
    await page.goto(`${ORIGIN}/login?next=/account`);
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/account');
    await page.getByRole('link', { name: 'Manage passkeys' }).click();
    await page.waitForURL((u) => u.pathname === '/account/passkeys');
    result.heading = await page.getByRole('heading', { level: 1 }).innerText();
    result.empty = (await page.getByRole('region', { name: 'Your passkeys' }).innerText()).includes('no passkeys yet');
    const response = await page.request.get(`${ORIGIN}/account/passkeys`);
    result.csp = response.headers()['content-security-policy'];
    result.unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input:not([type=hidden])')]
        .filter((i) => i.labels.length === 0 || !i.labels[0].innerText.trim())
        .map((i) => i.name));
    await page.locator('h1').click();
    result.focus_order = [];
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      result.focus_order.push(await focused(page));
    }
    await shot('1-passkeys-empty.png');
    await page.getByLabel('Name').fill('Laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.waitForURL((u) => u.search === '?done=added');
    result.added_notice = await page.locator('.note').innerText();
    result.listed = await page.locator('ul.passkeys > li .app-name').allInnerTexts();
    result.not_used_yet = (await page.locator('ul.passkeys').innerText()).includes('Not used yet');
    await shot('2-passkey-added.png');
    const credentials = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    result.resident = credentials.map((c) => c.isResidentCredential);
    result.sign_count_registered = credentials.map((c) => c.signCount);
    if (MODE === 'register') {
      result.credential = credentials[0];
      return result;
    }
    await signOut(page);

    // An app connects: the password, then the passkey on the second step.
    {
      const c = await connect(meta, app, 'Passkey Second Factor App');
      await page.goto(c.url);
      await page.getByLabel('Email').fill(EMAIL);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL((u) => u.pathname === '/login/code');
      result.second_step_heading = await page.getByRole('heading', { level: 1 }).innerText();
      result.second_step_code_field = await page.locator('#code').count();
      result.second_step_focused = await focused(page);
      await shot('3-second-step.png');
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      const claims = await consentAndToken(page, meta, app, c);
      result.second_factor_amr = claims.amr;
      result.second_factor_seen_amr = claims.seen_amr;
      result.second_factor_auth_time = claims.auth_time;
      await signOut(page);
    }

    // Another app: the passkey alone, from the sign-in page.
    {
      const c = await connect(meta, app, 'Passkey Only App');
      await page.goto(c.url);
      await page.waitForURL((u) => u.pathname === '/login');
      await shot('4-login-with-passkey.png');
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      const claims = await consentAndToken(page, meta, app, c);
      result.passwordless_amr = claims.amr;
      result.passwordless_seen_amr = claims.seen_amr;
      result.passwordless_auth_time = claims.auth_time;
      result.passwordless_email = claims.email;
    }
    const after = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    result.sign_count = after.map((c) => c.signCount);

    await page.goto(`${ORIGIN}/account/passkeys`);
    result.last_used = (await page.locator('ul.passkeys').innerText()).includes('Last used');
    await signOut(page);

    // A copy of the authenticator made before those sign-ins signs with an older count: a
    // clone, refused. The authenticator whose count moved on still signs in.
    const [original] = after;
    const counted = async (signCount) => {
      await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: original.credentialId });
      await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: { ...original, signCount } });
    };
    await counted(1);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForSelector('#passkey-error:not([hidden])');
    result.clone_error = await page.locator('#passkey-error').innerText();
    await counted(original.signCount + 5);
    // No app is waiting any more: a browser that forgot the last one's request.
    await context.clearCookies();
    await page.goto(`${ORIGIN}/login?next=/account`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL((u) => u.pathname === '/account');

    // Removing it is a plain form.
    await page.goto(`${ORIGIN}/account/passkeys`);
    await page.getByRole('button', { name: 'Remove passkey Laptop' }).click();
    await page.waitForURL((u) => u.search === '?done=removed');
    result.removed_notice = await page.locator('.note').innerText();
    result.listed_after_remove = await page.locator('ul.passkeys > li').count();
    await signOut(page);

    // The removed passkey (still on the authenticator) signs no one in.
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForSelector('#passkey-error:not([hidden])');
    result.refused_status_page = new URL(page.url()).pathname;
    result.refused_error = await page.locator('#passkey-error').innerText();
    await shot('5-passkey-refused.png');
  } finally {
    await browser.close();
    app.server.close();
  }
  return result;
}

const timer = setTimeout(() => fail('timed out after 100 s'), 100_000);
timer.unref();
main().then(
  (result) => {
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
  },
  (e) => fail(e?.stack ?? String(e)),
);
