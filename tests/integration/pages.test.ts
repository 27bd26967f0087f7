import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_CSP } from '../../local/pages';
import type { LocalServer } from '../../local/server';
import { ROUTES, send, startTestServer } from '../support/http';

/** How npm start serves the reference pages; what they do in a browser is in tests/browser/. */
let server: LocalServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

const get = (path: string, method = 'GET') =>
  send(server.url, path, undefined, { method, contentType: null });

describe('the reference pages', () => {
  it.each([
    ['/reset-password', 'text/html; charset=utf-8'],
    ['/forgot-password', 'text/html; charset=utf-8'],
    ['/pages/reset-password.js', 'text/javascript; charset=utf-8'],
    ['/pages/pages.css', 'text/css; charset=utf-8'],
  ])('serves %s with a strict CSP, no-referrer and no-store', async (path, contentType) => {
    const response = await get(path);

    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe(contentType);
    expect(response.headers['content-security-policy']).toBe(PAGE_CSP);
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBe('DENY');
    expect(response.headers['cross-origin-opener-policy']).toBe('same-origin');
  });

  it('allows no inline script, no other origin and no framing', () => {
    const directives = Object.fromEntries(
      PAGE_CSP.split('; ').map((directive) => [directive.split(' ')[0], directive.split(' ').slice(1)]),
    );

    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['script-src']).toEqual(["'self'"]);
    expect(directives['connect-src']).toEqual(["'self'"]);
    expect(directives['frame-ancestors']).toEqual(["'none'"]);
    expect(directives['base-uri']).toEqual(["'none'"]);
  });

  it('has no inline script or style in its HTML', async () => {
    for (const path of ['/reset-password', '/forgot-password']) {
      const html = (await get(path)).text;

      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
      expect(html).not.toMatch(/\son[a-z]+\s*=/i);
      expect(html).not.toMatch(/<style|\sstyle=/i);
    }
  });

  it('answers HEAD with the headers and no body', async () => {
    const response = await get('/reset-password', 'HEAD');

    expect(response.status).toBe(200);
    expect(response.headers['content-security-policy']).toBe(PAGE_CSP);
    expect(response.text).toBe('');
  });

  it('refuses a form posted to a page without JavaScript, echoing nothing', async () => {
    const response = await send(server.url, '/reset-password', 'new-password=secret+words+here', {
      contentType: 'application/x-www-form-urlencoded',
    });

    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('GET, HEAD');
    expect(response.text).not.toContain('secret');
  });

  it.each([
    '/pages/../local/server.ts',
    '/pages/%2e%2e/server.ts',
    '/pages/..%2fserver.ts',
    '/pages/reset-password.html',
    '/pages/',
    '/reset-password/',
  ])('serves nothing else: %s is a 404', async (path) => {
    const response = await get(path);

    expect(response.status).toBe(404);
  });

  it('puts links in emails that open this server’s own reset page', async () => {
    await send(server.url, '/__local/users', {
      email: 'pages.user@example.com',
      password: 'a passphrase of mine',
    });

    await send(server.url, ROUTES.request, { email: 'pages.user@example.com' });
    await server.emailSettled();

    const link =
      server.outbox.outbox().findLast((message) => message.template === 'password_reset')?.link ?? '';
    const prefix = `${server.url}/reset-password#token=`;
    expect(link.startsWith(prefix)).toBe(true);
    expect(link.slice(prefix.length)).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });
});
