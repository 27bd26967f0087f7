import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../local/server';
import { ROUTES, send, startTestServer, tokenFromLink } from '../support/http';
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
 * The reference pages in a real browser, against the real handlers on DynamoDB Local: what a
 * newcomer does after `npm start`, from "forgot password" to signing in with the new password.
 */
const EMAIL = 'browser.user@example.com';
const OLD_PASSWORD = 'the old passphrase i forgot';
const NEW_PASSWORD = 'lantern orchard velvet comet';
const SENT_MESSAGE =
  'If an account exists for that email address, a link to reset its password is on its way. ' +
  'Check your inbox and your spam folder. The link works once and expires soon.';

describe.skipIf(!HAS_CHROMIUM)('the reset pages in headless Chromium', () => {
  let server: LocalServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(SPEED_SETTINGS), launchChromium()]);
    await send(server.url, '/__local/users', { email: EMAIL, password: OLD_PASSWORD });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** The reset links sent to EMAIL so far. Mail is sent asynchronously: the queue drains first. */
  const resetLinks = async () => {
    await server.emailSettled();
    return server.outbox
      .outbox()
      .filter((message) => message.template === 'password_reset' && message.to === EMAIL)
      .map((message) => message.link as string);
  };

  it('asks for a link, opens it, drops the token first, shows violations, and resets the password', async () => {
    const { page, context, requests, problems, settled } = await openWatchedPage(browser);

    // Forgot-password, by keyboard: the same message for a known and an unknown address.
    await page.goto(`${server.url}/forgot-password`);
    await page.keyboard.press('Tab');
    expect(await focusedId(page)).toBe('email');
    await page.keyboard.type(EMAIL);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#request-status:not(:empty)');
    const known = await text(page, '#request-status');
    await snapshot(page, 'forgot-password-sent');
    expect(await accessibilityViolations(page)).toEqual([]);
    await page.fill('#email', 'nobody.here@example.com');
    const secondAnswer = page.waitForResponse((response) => response.url().endsWith(ROUTES.request));
    await page.keyboard.press('Enter');
    await secondAnswer;
    await page.waitForSelector('#request-status:not(:empty)');
    const unknown = await text(page, '#request-status');
    expect(known).toBe(SENT_MESSAGE);
    expect(unknown).toBe(known);
    expect(await page.getAttribute('#request-status', 'role')).toBe('status');

    // The emailed link opens this server's reset page, token in the fragment.
    const link = (await resetLinks()).at(-1) as string;
    const token = tokenFromLink(link);
    expect(link).toBe(`${server.url}/reset-password#token=${encodeURIComponent(token)}`);

    // Open it in a new tab, as a mail client would. Nothing is sent on load: a link scanner that
    // opens the page does not use up the token.
    const tab = await openWatchedPage(browser);
    await tab.page.goto(link);
    await tab.page.waitForSelector('#reset:not([hidden])');
    await tab.page.waitForLoadState('networkidle');
    await tab.settled();
    expect(tab.requests.filter((request) => request.url.includes('/api/'))).toEqual([]);
    expect((await tab.hrefs()).atStart).toBe(link);
    expect(await tab.page.evaluate('location.href')).toBe(`${server.url}/reset-password`);
    await snapshot(tab.page, 'reset-form');
    expect(await accessibilityViolations(tab.page)).toEqual([]);

    // A weak password, by keyboard: Tab through the fields, Space on the checkbox, Enter to send.
    await tab.page.keyboard.press('Tab');
    expect(await focusedId(tab.page)).toBe('new-password');
    await tab.page.keyboard.type('password');
    await tab.page.keyboard.press('Tab');
    await tab.page.keyboard.type('password');
    await tab.page.keyboard.press('Tab');
    await tab.page.keyboard.press('Space');
    expect(await tab.page.getAttribute('#new-password', 'type')).toBe('text');
    await tab.page.keyboard.press('Space');
    await tab.page.keyboard.press('Tab');
    expect(await focusedId(tab.page)).toBe('reset-submit');
    const weakAnswer = tab.page.waitForResponse((response) => response.url().endsWith(ROUTES.confirm));
    await tab.page.keyboard.press('Enter');
    const weak = (await (await weakAnswer).json()) as { violations: Array<{ message: string }> };
    await tab.page.waitForSelector('#new-password-errors li');
    const shown = await tab.page.$$eval('#new-password-errors li', (items) =>
      items.map((li) => li.textContent),
    );
    expect(weak.violations.length).toBeGreaterThan(0);
    expect(shown).toEqual(weak.violations.map((violation) => violation.message));
    expect(await tab.page.getAttribute('#new-password', 'aria-invalid')).toBe('true');
    expect(await tab.page.getAttribute('#new-password', 'aria-describedby')).toContain('new-password-errors');
    expect(await tab.page.getAttribute('#reset-error', 'role')).toBe('alert');
    expect(await text(tab.page, '#reset-error')).not.toBe('');
    expect(await focusedId(tab.page)).toBe('new-password');
    await snapshot(tab.page, 'weak-password');
    expect(await accessibilityViolations(tab.page)).toEqual([]);

    // Two different passwords never leave the page.
    const confirmsBefore = tab.requests.filter((request) => request.url.endsWith(ROUTES.confirm)).length;
    await tab.page.fill('#new-password', NEW_PASSWORD);
    await tab.page.fill('#confirm-password', `${NEW_PASSWORD}!`);
    await tab.page.keyboard.press('Enter');
    await tab.page.waitForSelector('#confirm-password-errors li');
    expect(await focusedId(tab.page)).toBe('confirm-password');
    await tab.settled();
    expect(tab.requests.filter((request) => request.url.endsWith(ROUTES.confirm)).length).toBe(
      confirmsBefore,
    );

    // A strong password succeeds; the page keeps nothing.
    await tab.page.fill('#confirm-password', NEW_PASSWORD);
    await tab.page.keyboard.press('Enter');
    await tab.page.waitForSelector('#done:not([hidden])');
    expect(await focusedId(tab.page)).toBe('done-heading');
    expect(await tab.page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    expect(await tab.page.evaluate('document.cookie')).toBe('');
    expect(await tab.context.storageState()).toEqual({ cookies: [], origins: [] });
    expect(await tab.page.inputValue('#new-password')).toBe('');
    await snapshot(tab.page, 'reset-done');
    expect(await accessibilityViolations(tab.page)).toEqual([]);

    // The token was gone from location.href at every request the page's code made, and it left
    // the browser only in the confirm bodies: never in a URL, a Referer or any other header.
    const { atFetch } = await tab.hrefs();
    await tab.settled();
    expect(atFetch).toHaveLength(2);
    for (const href of atFetch) expect(href).toBe(`${server.url}/reset-password`);
    for (const request of tab.requests) {
      expect(request.url).not.toContain(token);
      expect(request.url).not.toContain(encodeURIComponent(token));
      expect(request.headers.referer ?? '').toBe('');
      expect(JSON.stringify(request.headers)).not.toContain(token);
    }
    const confirmBodies = tab.requests.filter((request) => request.url.endsWith(ROUTES.confirm));
    expect(confirmBodies.map((request) => JSON.parse(request.body ?? '{}').token)).toEqual([token, token]);

    // The history entry was replaced, not added to: back is the blank tab, forward has no token.
    await tab.page.goBack();
    expect(tab.page.url()).toBe('about:blank');
    await tab.page.goForward();
    expect(tab.page.url()).toBe(`${server.url}/reset-password`);

    // The new password signs in; the old one no longer does.
    const newLogin = await send(server.url, '/__local/login', { email: EMAIL, password: NEW_PASSWORD });
    const oldLogin = await send(server.url, '/__local/login', { email: EMAIL, password: OLD_PASSWORD });
    expect(newLogin.status).toBe(200);
    expect(oldLogin.status).toBe(401);

    await settled();
    expect(requests.some((request) => request.url.endsWith(ROUTES.request))).toBe(true);
    expect([...problems, ...tab.problems]).toEqual([]);
    await Promise.all([context.close(), tab.context.close()]);
  });

  it('shows a used link as unusable and offers a form that sends a new one', async () => {
    const { page, context, problems } = await openWatchedPage(browser);
    await send(server.url, ROUTES.request, { email: EMAIL });
    const usedLink = (await resetLinks()).at(-1) as string;
    const used = await send(server.url, ROUTES.confirm, {
      token: tokenFromLink(usedLink),
      newPassword: 'a passphrase set from another tab',
    });
    expect(used.status).toBe(200);
    const linksBefore = (await resetLinks()).length;

    await page.goto(usedLink);
    await page.fill('#new-password', 'another long passphrase here');
    await page.fill('#confirm-password', 'another long passphrase here');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#new-link:not([hidden])');

    expect(await page.isHidden('#reset')).toBe(true);
    expect(await focusedId(page)).toBe('new-link-heading');
    expect(await text(page, '#new-link-reason')).toContain('already used');
    expect(await page.isVisible('#request-form')).toBe(true);
    await snapshot(page, 'invalid-link');
    expect(await accessibilityViolations(page)).toEqual([]);

    await page.fill('#email', EMAIL);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#request-status:not(:empty)');
    expect(await text(page, '#request-status')).toBe(SENT_MESSAGE);
    expect((await resetLinks()).length).toBe(linksBefore + 1);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('explains a page opened (or reloaded) without a token, and sends nothing', async () => {
    const { page, context, requests, settled } = await openWatchedPage(browser);

    await page.goto(`${server.url}/reset-password`);
    await page.waitForSelector('#new-link:not([hidden])');
    await page.waitForLoadState('networkidle');
    await settled();

    expect(await text(page, '#new-link-reason')).toContain('without a reset link');
    expect(await page.isHidden('#reset')).toBe(true);
    expect(requests.filter((request) => request.url.includes('/api/'))).toEqual([]);
    await context.close();
  });
});
