import type { Browser, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemResponse } from '../../lib/http/problem';
import type { LocalServer } from '../../local/server';
import { ROUTES, send, startTestServer } from '../support/http';
import {
  accessibilityViolations,
  focusedId,
  HAS_CHROMIUM,
  launchChromium,
  openWatchedPage,
  SPEED_SETTINGS,
  snapshot,
  text,
} from './support';

/**
 * The answers a user meets when things go wrong: no network, a 503, and a real 429 from a
 * server whose confirm limit is two attempts an hour.
 */
const EMAIL = 'browser.limits@example.com';
const STRONG = 'harbour tulip gravel mosaic';
const CONFIRM_LIMIT = 2;

describe.skipIf(!HAS_CHROMIUM)('the reset page when the service refuses or fails', () => {
  let server: LocalServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startTestServer({ ...SPEED_SETTINGS, RATE_LIMIT_CONFIRM_IP: `${CONFIRM_LIMIT}/1h` }),
      launchChromium(),
    ]);
    await send(server.url, '/__local/users', { email: EMAIL, password: 'the first passphrase here' });
    await send(server.url, ROUTES.request, { email: EMAIL });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** The newest reset link. Mail is sent asynchronously: the queue drains first. */
  const link = async () => {
    await server.emailSettled();
    return server.outbox.outbox().findLast((message) => message.template === 'password_reset')
      ?.link as string;
  };

  async function submitStrongPassword(page: Page): Promise<void> {
    await page.fill('#new-password', STRONG);
    await page.fill('#confirm-password', STRONG);
    await page.keyboard.press('Enter');
  }

  it('reads Retry-After both as seconds and as an HTTP date', async () => {
    const { page, context } = await openWatchedPage(browser);
    await page.goto(`${server.url}/forgot-password`);
    const inTwoMinutes = new Date(Date.now() + 120_000).toUTCString();

    // The page's own module, imported in the page (CSP allows 'self' scripts).
    const parsed = (await page.evaluate(`import('/pages/http.js').then((http) => [
      http.parseRetryAfter('90'),
      http.parseRetryAfter(${JSON.stringify(inTwoMinutes)}),
      http.parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT'),
      http.parseRetryAfter('soon'),
      http.describeWait(1),
      http.describeWait(45),
    ])`)) as [number, number, number, number | undefined, string, string];

    expect(parsed[0]).toBe(90);
    expect(parsed[1]).toBeGreaterThanOrEqual(118);
    expect(parsed[1]).toBeLessThanOrEqual(120);
    expect(parsed[2]).toBe(0);
    expect(parsed[3]).toBeUndefined();
    expect(parsed.slice(4)).toEqual(['1 second', '45 seconds']);
    await context.close();
  });

  it('says the service could not be reached when the network fails, and keeps the form', async () => {
    const { page, context } = await openWatchedPage(browser);
    await page.route(`**${ROUTES.confirm}`, (route) => route.abort('connectionrefused'));
    await page.goto(await link());

    await submitStrongPassword(page);
    await page.waitForSelector('#reset-error:not(:empty)');

    expect(await text(page, '#reset-error')).toContain('could not reach the service');
    expect(await page.isVisible('#reset-form')).toBe(true);
    expect(await page.getAttribute('#reset-submit', 'aria-disabled')).toBeNull();
    await snapshot(page, 'network-failure');
    expect(await accessibilityViolations(page)).toEqual([]);
    await context.close();
  });

  it('asks to try again on a 503, the bytes our problem+json mapper sends', async () => {
    const { page, context } = await openWatchedPage(browser);
    // The API answers 503 when DynamoDB is down; the browser gets exactly this response.
    const unavailable = problemResponse('service_unavailable', {}, { 'Retry-After': '5' });
    await page.route(`**${ROUTES.confirm}`, (route) =>
      route.fulfill({
        status: unavailable.statusCode as number,
        headers: unavailable.headers as Record<string, string>,
        body: unavailable.body as string,
      }),
    );
    await page.goto(await link());

    await submitStrongPassword(page);
    await page.waitForSelector('#reset-error:not(:empty)');

    expect(await text(page, '#reset-error')).toContain('briefly unavailable');
    expect(await text(page, '#reset-error')).toContain('Try again');
    expect(await page.isVisible('#reset-form')).toBe(true);
    await snapshot(page, 'service-unavailable');
    expect(await accessibilityViolations(page)).toEqual([]);
    await context.close();
  });

  it('shows the wait from Retry-After on a 429 and holds the button until then', async () => {
    const { page, context, requests, settled, problems } = await openWatchedPage(browser);
    // The page's clock is Playwright's, so the test can jump to the end of the wait.
    await page.clock.install();
    await page.goto(await link());
    // Use up the confirm limit with weak passwords, which leave the token usable. Windows are
    // fixed and aligned to the clock: if the hour turns mid-test, the loop fills the next one.
    const statuses: number[] = [];
    let response: Response | undefined;
    while (statuses.length < 2 * (CONFIRM_LIMIT + 1) && response?.status() !== 429) {
      await page.fill('#new-password', 'password');
      await page.fill('#confirm-password', 'password');
      const answer = page.waitForResponse((candidate) => candidate.url().endsWith(ROUTES.confirm));
      await page.keyboard.press('Enter');
      response = await answer;
      statuses.push(response.status());
    }
    if (!response) throw new Error('no confirm was sent');
    await page.waitForSelector('#reset-error:not(:empty)');

    expect(statuses.slice(0, CONFIRM_LIMIT)).toEqual([422, 422]);
    expect(response.status()).toBe(429);
    // Windows are fixed, aligned to the clock: the wait is what is left of the current hour.
    const retryAfter = Number(response.headers()['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    const wait =
      retryAfter < 60
        ? `Wait ${retryAfter} second`
        : `Wait ${Math.ceil(retryAfter / 60)} minute${retryAfter > 60 ? 's' : ''} (until `;
    expect(await text(page, '#reset-error')).toContain(wait);
    expect(await page.getAttribute('#reset-submit', 'aria-disabled')).toBe('true');
    await snapshot(page, 'rate-limited');
    expect(await accessibilityViolations(page)).toEqual([]);

    // While held, pressing the button sends nothing.
    await settled();
    const sent = requests.filter((request) => request.url.endsWith(ROUTES.confirm)).length;
    await page.focus('#reset-submit');
    await page.keyboard.press('Enter');
    await page.waitForLoadState('networkidle');
    await settled();
    expect(requests.filter((request) => request.url.endsWith(ROUTES.confirm)).length).toBe(sent);
    expect(await focusedId(page)).toBe('reset-submit');

    // When the wait is over, the button works again and the page says so.
    await page.clock.fastForward(retryAfter * 1000);
    await page.waitForSelector('#reset-submit:not([aria-disabled])');
    expect(await text(page, '#reset-error')).toBe('You can try again now.');
    expect(problems).toEqual([]);
    await context.close();
  });
});
