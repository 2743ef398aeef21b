// Drives a real Chromium (Debian's /usr/bin/chromium through playwright-core) through the
// pages of issue 17 against a server that mails through a real SMTP server: sign up, "check
// your mail", "Send again", the verification link (which signs this browser in); then
// "Forgot your password?", the reset form with "also sign out every app", and a sign-in
// with the new password.
//
//   MCP_URL=http://127.0.0.1:PORT/mcp USER_EMAIL=.. USER_PASSWORD=.. node mail.mjs --mail-dir DIR
//
// DIR is the SMTP sink's folder (one JSON per message, with its decoded text).
// USER_EMAIL names an existing account whose password is reset. Screenshots of each page go
// to a temp folder whose path is printed. Prints one JSON line; exits non-zero on failure.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { need, fail, check, launchChromium, screenshotsDir } from './kit.mjs';

const ORIGIN = new URL(need('MCP_URL')).origin;
const MAIL_DIR = argument('--mail-dir');
const EMAIL = need('USER_EMAIL');
const PASSWORD = need('USER_PASSWORD');
const NEW_PASSWORD = 'chosen in chromium';
const NEWCOMER = 'chromium-newcomer@example.com';

function argument(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || !process.argv[i + 1]) fail(`${name} is required`);
  return process.argv[i + 1];
}

/** The mails to `to` so far, oldest first. */
function mailsTo(to) {
  return readdirSync(MAIL_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(MAIL_DIR, f), 'utf8')))
    .filter((m) => m.rcpt_to.includes(to));
}

/** Waits for the `n`-th mail to `to`; returns the link in it that starts with `prefix`. */
async function linkInMail(to, n, prefix) {
  for (let i = 0; i < 300; i++) {
    const mails = mailsTo(to);
    if (mails.length >= n) {
      const text = mails[n - 1].text;
      const start = text.indexOf(prefix);
      check(start >= 0, `mail ${n} to ${to} has no ${prefix} link: ${text}`);
      return text.slice(start).split(/\s/)[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`mail ${n} to ${to} never arrived`);
}

async function heading(page) {
  return (await page.locator('h1').textContent()).trim();
}

async function main() {
  const shots = screenshotsDir();
  const browser = await launchChromium();
  const result = { screenshots: shots, browser: browser.version() };
  const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  try {
    // A newcomer signs up, asks for the mail again, and follows the link in this browser.
    {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${ORIGIN}/register`);
      await page.fill('#email', NEWCOMER);
      await page.fill('#password', PASSWORD);
      await page.click('button[type=submit]');
      result.after_sign_up = await heading(page);
      check(result.after_sign_up === 'Check your mail', `after sign-up: ${result.after_sign_up}`);
      check((await page.textContent('main')).includes(NEWCOMER), 'the page names the address');
      await shot(page, '1-check-mail');
      await page.getByRole('button', { name: 'Send again' }).click();
      result.resent = (await page.textContent('[role=status]')).trim();
      await shot(page, '2-sent-again');
      const link = await linkInMail(NEWCOMER, 2, `${ORIGIN}/verify?token=`);
      await page.goto(link);
      result.after_link = page.url();
      result.signed_in_as = (await page.textContent('main')).includes(NEWCOMER);
      check(result.signed_in_as, `the link did not sign this browser in: ${page.url()}`);
      await shot(page, '3-verified-and-signed-in');
      await context.close();
    }
    // An account holder forgot the password.
    {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${ORIGIN}/login`);
      await page.getByRole('link', { name: 'Forgot your password?' }).click();
      check(new URL(page.url()).pathname === '/forgot', `forgot link went to ${page.url()}`);
      await shot(page, '4-forgot');
      await page.fill('#email', EMAIL);
      await page.click('button[type=submit]');
      result.after_forgot = await heading(page);
      await shot(page, '5-forgot-sent');
      const link = await linkInMail(EMAIL, 1, `${ORIGIN}/reset?token=`);
      await page.goto(link);
      result.reset_form = await heading(page);
      await page.fill('#password', NEW_PASSWORD);
      await page.check('input[name=revoke_apps]');
      await shot(page, '6-reset-form');
      await page.click('button[type=submit]');
      result.after_reset = await heading(page);
      await shot(page, '7-reset-done');
      await page.getByRole('link', { name: 'Sign in' }).click();
      await page.fill('#email', EMAIL);
      await page.fill('#password', NEW_PASSWORD);
      await page.click('button[type=submit]');
      result.signed_in_with_new_password = (await page.textContent('main')).includes(EMAIL);
      await shot(page, '8-signed-in');
      await context.close();
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => fail(e.stack || String(e)));
