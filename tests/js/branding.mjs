// Looks at a branded Lanyard in a real Chromium (Debian's /usr/bin/chromium through
// playwright-core): the operator's logo loads under the pages' content security policy, the
// accent colour reaches the buttons, and the footer links are there. Screenshots go to a temp
// folder whose path is printed.
//
//   MCP_URL=http://127.0.0.1:PORT/mcp node branding.mjs
//
// Prints one JSON line of what it saw; exits non-zero on any failure.

import { join } from 'node:path';

import { launchChromium, screenshotsDir } from './kit.mjs';

const ORIGIN = new URL(process.env.MCP_URL).origin;

const browser = await launchChromium();
try {
  const shots = screenshotsDir();
  const result = { screenshots: shots };
  for (const scheme of ['light', 'dark']) {
    const page = await browser.newPage({ colorScheme: scheme });
    page.setDefaultTimeout(15_000);
    await page.goto(`${ORIGIN}/login`);
    const logo = page.locator('.brand img');
    await logo.waitFor();
    result[scheme] = {
      title: await page.title(),
      logo_width: await logo.evaluate((img) => (img.complete ? img.naturalWidth : 0)),
      button: await page.locator('button.primary').evaluate((b) => getComputedStyle(b).backgroundColor),
      footer_links: await page.locator('footer nav a').allInnerTexts(),
    };
    await page.screenshot({ path: join(shots, `login-${scheme}.png`), fullPage: true });
    await page.close();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await browser.close();
}
