// Drives a real Chromium (Debian's /usr/bin/chromium through playwright-core) through
// Lanyard's second factor: sign in, enrol TOTP on /account/totp (the QR code and the
// otpauth:// link the page shows; codes computed here with an HMAC, as an authenticator app
// does), keep the recovery codes, then connect an app and pass the code page, a wrong code
// first. Screenshots of each page go to a temp folder whose path is printed.
//
//   MCP_URL=http://127.0.0.1:PORT/mcp USER_EMAIL=.. USER_PASSWORD=.. node totp.mjs
//
// Prints one JSON line; exits non-zero on any failure.

import { join } from 'node:path';
import { createHash, createHmac, randomBytes } from 'node:crypto';

import { need, fail, check, launchChromium, screenshotsDir, callbackServer, json } from './kit.mjs';

const MCP_URL = need('MCP_URL');
const EMAIL = need('USER_EMAIL');
const PASSWORD = need('USER_PASSWORD');
const ORIGIN = new URL(MCP_URL).origin;

/** RFC 4648 base32, as otpauth URIs carry the secret. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    check(v >= 0, `not base32: ${text}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The RFC 6238 code (HMAC-SHA-1, 30 s, 6 digits) of `step`. */
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

const stepNow = () => Math.floor(Date.now() / 1000 / 30);

async function signIn(page) {
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function main() {
  const shots = screenshotsDir();
  const app = await callbackServer();
  const meta = await json(`${ORIGIN}/.well-known/oauth-authorization-server`);
  const browser = await launchChromium();
  const result = { screenshots: shots, browser: browser.version() };
  try {
    // Enrolment, from a signed-in browser.
    let secret;
    {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto(`${ORIGIN}/login`);
      await signIn(page);
      await page.waitForURL((u) => u.pathname === '/');
      await page.goto(`${ORIGIN}/account/totp`);
      check((await page.getByRole('heading', { level: 1 }).innerText()).includes('two-step'), 'no enrolment heading');
      const qr = page.locator('.qr svg');
      const box = await qr.boundingBox();
      check(box && box.width >= 150 && box.height >= 150, `the QR code is not drawn: ${JSON.stringify(box)}`);
      result.qr_size = Math.round(box.width);
      await page.screenshot({ path: join(shots, '1-enrol.png'), fullPage: true });
      const uri = await page.locator('#otpauth-uri').getAttribute('href');
      check(uri.startsWith('otpauth://totp/'), `not an otpauth URI: ${uri}`);
      const params = new URL(uri).searchParams;
      secret = base32(params.get('secret'));
      result.otpauth_issuer = params.get('issuer');
      result.otpauth_label = decodeURIComponent(new URL(uri).pathname.slice(1));
      await page.getByLabel('Code from the app').fill(totp(secret, stepNow()));
      await page.getByRole('button', { name: 'Turn on' }).click();
      await page.waitForSelector('ul.codes');
      result.recovery_codes = (await page.locator('ul.codes li').allInnerTexts()).length;
      await page.screenshot({ path: join(shots, '2-recovery-codes.png'), fullPage: true });
      await context.close();
    }

    // An app connects: the password, then the code page.
    {
      const client = await json(meta.registration_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          client_name: 'Lanyard TOTP Test',
          redirect_uris: [app.redirectUri],
          grant_types: ['authorization_code', 'refresh_token'],
          token_endpoint_auth_method: 'none',
        }),
      });
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const u = new URL(meta.authorization_endpoint);
      u.search = new URLSearchParams({
        response_type: 'code', client_id: client.client_id, redirect_uri: app.redirectUri,
        code_challenge: challenge, code_challenge_method: 'S256', state: 'st', scope: 'read', resource: MCP_URL,
      }).toString();
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto(u.href);
      await signIn(page);
      await page.waitForURL((u) => u.pathname === '/login/code');
      result.code_page_heading = await page.getByRole('heading', { level: 1 }).innerText();
      check((await page.locator('body').innerText()).includes('Lanyard TOTP Test'), 'the code page does not name the app');
      await page.screenshot({ path: join(shots, '3-code.png'), fullPage: true });

      const field = page.getByLabel('Code from your authenticator app');
      const near = new Set([-1, 0, 1, 2].map((d) => totp(secret, stepNow() + d)));
      const wrong = ['000000', '111111', '222222'].find((c) => !near.has(c));
      await field.fill(wrong);
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForSelector('#code-error');
      result.wrong_error = await page.locator('#code-error').innerText();
      const described = await page.locator('#code').getAttribute('aria-describedby');
      check(described === 'code-error', `the field is not described by its error: ${described}`);
      await page.screenshot({ path: join(shots, '4-code-wrong.png'), fullPage: true });

      await page.getByLabel('Code from your authenticator app').fill(totp(secret, stepNow() + 1));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForURL((u) => u.pathname === '/consent');
      await page.waitForTimeout(800);
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((u) => u.href.startsWith(app.redirectUri));
      const back = Object.fromEntries(new URL(page.url()).searchParams);
      const tokens = await json(meta.token_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code', code: back.code, code_verifier: verifier,
          redirect_uri: app.redirectUri, client_id: client.client_id, resource: MCP_URL,
        }).toString(),
      });
      const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString());
      result.amr = claims.amr;
      result.auth_time = claims.auth_time;
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
