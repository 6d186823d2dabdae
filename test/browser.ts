import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { PROJECT_ROOT } from '../src/config/env.js';

/**
 * Headless Chromium for the browser tests (GraphiQL, later the dashboard), driven by playwright-core,
 * which never downloads a browser: the tests use the machine's Chromium (Debian's `chromium`
 * package) or the binary named by CHROMIUM_PATH, and fail with the install command when there is none.
 */
const SYSTEM_CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const INSTALL_HINT =
  'install it with `apt-get update && apt-get install -y chromium` (Debian/Ubuntu; .ci/run does), or set CHROMIUM_PATH to a Chromium or Chrome binary';

/** Where screenshots go (git-ignored). */
export const TEST_RESULTS_DIR = path.join(PROJECT_ROOT, 'test-results');

export function chromiumPath(): string {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) {
    if (!existsSync(configured)) throw new Error(`CHROMIUM_PATH=${configured} does not exist: ${INSTALL_HINT}`);
    return configured;
  }
  const found = SYSTEM_CHROMIUM.find((p) => existsSync(p));
  if (!found)
    throw new Error(
      `The browser tests need Chromium, and none was found at ${SYSTEM_CHROMIUM.join(' or ')}: ${INSTALL_HINT}`,
    );
  return found;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Chromium refuses to start as root with its sandbox on (CI containers run as root).
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}

/**
 * The little of the DOM that code run in the page uses, for the type checker (the tests compile
 * without lib "dom"): write `(globalThis as unknown as PageGlobals).document` in page callbacks.
 */
export interface PageGlobals {
  document: {
    querySelector(selector: string): unknown;
    addEventListener(
      type: 'securitypolicyviolation',
      listener: (event: { violatedDirective: string; blockedURI: string }) => void,
    ): void;
  };
}

/** GraphiQL 3's editors are CodeMirror 5 instances, kept on their wrapper element. */
export interface CodeMirrorElement {
  CodeMirror?: { getValue(): string; setValue(value: string): void; operationName?: string | null };
}

const isLoopback = (url: URL) =>
  url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);

export interface OfflinePage {
  page: Page;
  context: BrowserContext;
  /** Every request the page made (all loopback: the others are in `blocked`). */
  requests: URL[];
  /** Requests to anything but this machine: aborted as if the network were off. */
  blocked: string[];
  /** Console errors, uncaught page errors, CSP violations and failed requests, as text. */
  problems: string[];
}

/**
 * A page whose every request to a non-loopback address is aborted (as with the network off) and
 * recorded, with console errors, page errors and Content-Security-Policy violations collected.
 */
export async function openOfflinePage(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<OfflinePage> {
  const context = await browser.newContext({ viewport, serviceWorkers: 'block' });
  const requests: URL[] = [];
  const blocked: string[] = [];
  const problems: string[] = [];
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (isLoopback(url)) {
      requests.push(url);
      await route.continue();
    } else {
      blocked.push(url.href);
      await route.abort('internetdisconnected');
    }
  });
  await context.addInitScript(() => {
    (globalThis as unknown as PageGlobals).document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline code'}`),
    );
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    if (isLoopback(new URL(request.url())))
      problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`);
  });
  return { page, context, requests, blocked, problems };
}

/** Saves a screenshot of the page's viewport into test-results/ and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(TEST_RESULTS_DIR, { recursive: true });
  const file = path.join(TEST_RESULTS_DIR, name);
  await page.screenshot({ path: file });
  return file;
}
