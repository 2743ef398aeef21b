// What every script here shares: its environment, failing with a message, a real Chromium,
// the app's side of a redirect (a loopback callback server), and small HTTP and page helpers.

import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';

import { chromium } from 'playwright-core';

/** The running script's name, which its failures start with. */
const SCRIPT = basename(process.argv[1] ?? 'script', '.mjs');

export function need(name) {
  const v = process.env[name];
  if (!v) fail(`environment variable ${name} is required`);
  return v;
}

export function fail(message) {
  process.stderr.write(`${SCRIPT}: FAIL: ${message}\n`);
  process.exit(1);
}

export function check(cond, message) {
  if (!cond) throw new Error(message);
}

/** Debian's Chromium (CHROMIUM overrides the path), headless, with no background traffic. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

/** A fresh folder for this run's screenshots, announced on stderr. */
export function screenshotsDir() {
  const shots = mkdtempSync(join(tmpdir(), `lanyard-${SCRIPT}-`));
  process.stderr.write(`${SCRIPT}: screenshots in ${shots}\n`);
  return shots;
}

/** The app's side: a loopback server that records each query sent to /callback. */
export async function callbackServer() {
  const hits = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/callback') hits.push(Object.fromEntries(url.searchParams));
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>App</title><p>Back in the app.</p>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, hits, redirectUri: `http://127.0.0.1:${server.address().port}/callback` };
}

/** A PKCE pair (RFC 7636, S256). */
export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** A JSON answer, which must be a success. */
export async function json(url, init) {
  const r = await fetch(url, init);
  const body = await r.json().catch(() => null);
  check(r.ok, `${init?.method ?? 'GET'} ${url} answered ${r.status}: ${JSON.stringify(body)}`);
  return body;
}

/** What has the keyboard focus: its id, else its label, else its text. */
export async function focused(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    if (!e || e === document.body) return null;
    return e.id || e.getAttribute('aria-label') || e.textContent.trim();
  });
}
