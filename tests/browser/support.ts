import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Browser, type BrowserContext, chromium, type Page, type Request } from 'playwright-core';
import { loadConfig } from '../../lib/config';
import { LOCAL_DEFAULTS } from '../../local/server';

/**
 * Real headless Chromium (Debian's `chromium` package) driven by playwright-core. Without the
 * browser the suites skip with a message, so `npm test` still passes; `.ci/run` installs it.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM_PATH);
if (!HAS_CHROMIUM) {
  console.warn(
    `[browser] SKIPPED: no Chromium at ${CHROMIUM_PATH}. Install it (apt-get install -y chromium) or set CHROMIUM_PATH.`,
  );
}

// On a closed network Chromium stalls on its background fetches without these flags.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** launch() gives every browser a new, empty temporary profile (--user-data-dir) and deletes it on close. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: FLAGS, timeout: 60_000 });
}

/**
 * `BROWSER_AT_DEFAULTS=1` runs the suites at npm start's defaults (bcrypt cost 12, the 250 ms
 * request floor) instead of the cheap test settings.
 */
const AT_DEFAULTS = process.env.BROWSER_AT_DEFAULTS === '1';
const defaults = loadConfig(LOCAL_DEFAULTS);
export const SPEED_SETTINGS: Record<string, string> = AT_DEFAULTS
  ? {
      BCRYPT_COST: String(defaults.bcryptCost),
      REQUEST_RESPONSE_FLOOR_MS: String(defaults.requestResponseFloorMs),
    }
  : {};
if (AT_DEFAULTS) console.log(`[browser] at npm start's defaults: bcrypt cost ${defaults.bcryptCost}`);

export interface SeenRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Every request the page made, with all its headers. */
  requests: SeenRequest[];
  /** Uncaught errors and Content-Security-Policy violations reported by the page. */
  problems: string[];
  /** Waits until every request seen so far is in `requests`. */
  settled: () => Promise<void>;
  /** location.href at document start, and at each fetch() the page's own code made. */
  hrefs: () => Promise<{ atStart: string; atFetch: string[] }>;
}

// Runs in the page before its scripts: records where the page was at each fetch() call, at the
// moment of the call. (A string, as the tests are type-checked without the DOM library.)
const RECORD_HREFS = `
  window.__hrefs = { atStart: location.href, atFetch: [] };
  const originalFetch = window.fetch;
  window.fetch = function (...args) {
    window.__hrefs.atFetch.push(location.href);
    return originalFetch.apply(this, args);
  };
`;

/** A new browser context (no cookies, no storage) and a page whose traffic and errors are recorded. */
export async function openWatchedPage(browser: Browser): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 720, height: 560 } });
  await context.addInitScript({ content: RECORD_HREFS });
  const page = await context.newPage();
  const requests: SeenRequest[] = [];
  const pending: Promise<void>[] = [];
  const problems: string[] = [];
  page.on('request', (request: Request) => {
    pending.push(
      request.allHeaders().then((headers) => {
        requests.push({ method: request.method(), url: request.url(), headers, body: request.postData() });
      }),
    );
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Trusted Type/i.test(message.text())) problems.push(message.text());
  });
  return {
    page,
    context,
    requests,
    problems,
    settled: async () => {
      await Promise.all(pending);
    },
    hrefs: async () => {
      return (await page.evaluate('window.__hrefs')) as { atStart: string; atFetch: string[] };
    },
  };
}

const ARTIFACTS = new URL('../../test-artifacts/browser/', import.meta.url);

/** Keeps a screenshot of the page's state as a test artifact (test-artifacts/ is gitignored). */
export async function snapshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, ARTIFACTS).pathname, fullPage: true });
}

/** The text content of an element, trimmed. */
export async function text(page: Page, selector: string): Promise<string> {
  return ((await page.textContent(selector)) ?? '').trim();
}

/** The id of the element that has the keyboard focus. */
export function focusedId(page: Page): Promise<string> {
  return page.evaluate('document.activeElement && document.activeElement.id') as Promise<string>;
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Audits the page as it is now with axe-core (WCAG 2.1 A and AA, and axe's best practices).
 * Returns one line per rule broken, so a failing test names them.
 */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  return (await page.evaluate(`
    axe
      .run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
      .then((result) => result.violations.map((v) => v.id + ': ' + v.help + ' (' + v.nodes.map((n) => n.target.join(' ')).join(', ') + ')'))
  `)) as string[];
}
