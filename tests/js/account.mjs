// Drives a real Chromium (Debian's /usr/bin/chromium through playwright-core), with
// JavaScript turned off, through Lanyard's account page: /account sends it to sign in and
// back; the page lists the one app the account has allowed; a wrong current password is
// refused next to its field (focused); the password changes; the app is revoked; a wrong
// password does not delete the account, the right one does. It also walks the page with
// Tab to record the focus order, and checks every field has a label.
//
//   MCP_URL=http://127.0.0.1:PORT/mcp USER_EMAIL=.. USER_PASSWORD=.. node account.mjs
//
// USER_EMAIL/USER_PASSWORD name an account that has allowed one app, registered under the
// name the Rust test kit gives its clients (`Test App`).
// CHROMIUM overrides the browser path. Screenshots of each step go to a temp folder whose
// path is printed. Prints one JSON line; exits non-zero on any failure.

import { join } from 'node:path';

import { need, fail, check, launchChromium, screenshotsDir, focused } from './kit.mjs';

const MCP_URL = need('MCP_URL');
const EMAIL = need('USER_EMAIL');
const PASSWORD = need('USER_PASSWORD');
const APP_NAME = 'Test App';
const NEW_PASSWORD = 'a new password from the browser';
const ORIGIN = new URL(MCP_URL).origin;

/** The error said about field `id`, checked to be announced with it: its text. */
async function fieldError(page, id) {
  const input = page.locator(`#${id}`);
  check((await input.getAttribute('aria-invalid')) === 'true', `#${id} is not marked invalid`);
  const describedBy = (await input.getAttribute('aria-describedby')) ?? '';
  check(describedBy.split(' ').includes(`${id}-error`), `#${id} is not described by its error ("${describedBy}")`);
  const error = page.locator(`#${id}-error`);
  check(await error.isVisible(), `no visible error for #${id}`);
  // Next to its field: the error sits between the field's label and the field.
  const near = await page.evaluate((id) => {
    const input = document.getElementById(id);
    return input.previousElementSibling?.id === `${id}-error`
      && input.labels[0] === input.previousElementSibling.previousElementSibling;
  }, id);
  check(near, `the error for #${id} is not next to it`);
  return (await error.innerText()).trim();
}

async function main() {
  const shots = screenshotsDir();
  const browser = await launchChromium();
  const result = { screenshots: shots, browser: browser.version() };
  try {
    // No script runs: everything below works with forms and links alone.
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const shot = (name) => page.screenshot({ path: join(shots, name), fullPage: true });

    await page.goto(`${ORIGIN}/account`);
    const login = new URL(page.url());
    result.sent_to = login.pathname + login.search;
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/account');
    result.heading = await page.getByRole('heading', { level: 1 }).innerText();
    await shot('1-account.png');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('1-account-dark.png');
    await page.emulateMedia({ colorScheme: 'light' });

    const apps = page.locator('ul.apps > li');
    result.apps = await apps.count();
    const app = (await apps.first().innerText()).split('\n').map((l) => l.trim()).filter(Boolean);
    result.app_lines = app;
    result.times = await page.locator('ul.apps time').count();
    result.unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input:not([type=hidden])')]
        .filter((i) => i.labels.length === 0 || !i.labels[0].innerText.trim())
        .map((i) => i.name));
    result.headings = await page.getByRole('heading', { level: 2 }).allInnerTexts();

    // Keyboard users meet the controls in reading order.
    result.focus_order = [];
    for (let i = 0; i < 14; i++) {
      await page.keyboard.press('Tab');
      result.focus_order.push(await focused(page));
    }

    await page.getByLabel('Current password').fill('not my password');
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForLoadState();
    result.password_error = await fieldError(page, 'current-password');
    result.focused_after_error = await focused(page);
    await shot('2-wrong-password.png');

    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForURL((u) => u.searchParams.get('done') === 'password');
    result.password_notice = await page.getByRole('status').innerText();
    await shot('3-password-changed.png');

    await page.getByRole('button', { name: `Revoke access for ${APP_NAME}` }).click();
    await page.waitForURL((u) => u.searchParams.get('done') === 'revoked');
    result.revoked_notice = await page.getByRole('status').innerText();
    result.apps_after_revoke = await page.locator('ul.apps > li').count();
    result.empty_list = (await page.locator('section[aria-labelledby=apps-heading]').innerText()).includes('No app has access');
    await shot('4-revoked.png');

    await page.getByLabel('Your password, to confirm').fill(PASSWORD);
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await page.waitForLoadState();
    result.delete_error = await fieldError(page, 'delete-password');
    result.focused_after_delete_error = await focused(page);
    await shot('5-delete-refused.png');

    await page.getByLabel('Your password, to confirm').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await page.waitForLoadState();
    result.deleted_heading = await page.getByRole('heading', { level: 1 }).innerText();
    await shot('6-deleted.png');
    await page.goto(`${ORIGIN}/account`);
    result.after_delete = new URL(page.url()).pathname;
    await context.close();
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

const timer = setTimeout(() => fail('timed out after 90 s'), 90_000);
timer.unref();
main().then(
  () => process.exit(0),
  (e) => fail(e?.stack ?? String(e)),
);
