import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../local/server';
import { ROUTES, send, startTestServer } from '../support/http';

/** Every kind of bad input gets a 4xx problem+json with a stable code: never a 5xx, a stack or a hang. */
let server: LocalServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

const token = `${'A'.repeat(22)}.${'B'.repeat(43)}`;
const valid: Record<string, Record<string, string>> = {
  [ROUTES.request]: { email: 'someone@example.com' },
  [ROUTES.confirm]: { token, newPassword: 'long enough passphrase' },
};
const invalidUtf8 = new Uint8Array([
  0x7b, 0x22, 0x65, 0x6d, 0x61, 0x69, 0x6c, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d,
]);

type Case = [name: string, body: unknown, contentType: string | null, code: string, status: number];
const cases = (route: string): Case[] => {
  const good = valid[route] as Record<string, string>;
  const firstKey = Object.keys(good)[0] as string;
  return [
    ['non-JSON text', 'email=someone@example.com', 'application/json', 'malformed_json', 400],
    ['truncated JSON', '{"email": "a@b.c"', 'application/json', 'malformed_json', 400],
    ['an empty body', '', 'application/json', 'malformed_json', 400],
    ['no content type', JSON.stringify(good), null, 'unsupported_media_type', 415],
    [
      'a form content type',
      JSON.stringify(good),
      'application/x-www-form-urlencoded',
      'unsupported_media_type',
      415,
    ],
    ['text/plain', JSON.stringify(good), 'text/plain', 'unsupported_media_type', 415],
    [
      'a body over 4 KB',
      { ...good, padding: 'x'.repeat(5000) },
      'application/json',
      'payload_too_large',
      413,
    ],
    [
      'a 10,000-character string',
      { ...good, [firstKey]: 'a'.repeat(10_000) },
      'application/json',
      'payload_too_large',
      413,
    ],
    ['an array', [good], 'application/json', 'invalid_request', 400],
    ['null', 'null', 'application/json', 'invalid_request', 400],
    ['a number', '42', 'application/json', 'invalid_request', 400],
    ['a string', '"hello"', 'application/json', 'invalid_request', 400],
    [
      'a number where a string belongs',
      { ...good, [firstKey]: 12345 },
      'application/json',
      'invalid_request',
      400,
    ],
    [
      'null where a string belongs',
      { ...good, [firstKey]: null },
      'application/json',
      'invalid_request',
      400,
    ],
    [
      'an array where a string belongs',
      { ...good, [firstKey]: ['a'] },
      'application/json',
      'invalid_request',
      400,
    ],
    [
      'an object where a string belongs',
      { ...good, [firstKey]: { a: 1 } },
      'application/json',
      'invalid_request',
      400,
    ],
    ['a missing field', {}, 'application/json', 'invalid_request', 400],
    ['an unknown key', { ...good, admin: true }, 'application/json', 'invalid_request', 400],
    [
      'a __proto__ key',
      `{"__proto__": {"admin": true}, ${JSON.stringify(good).slice(1)}`,
      'application/json',
      'malformed_json',
      400,
    ],
    [
      'a constructor key',
      `{"constructor": {"prototype": {}}, ${JSON.stringify(good).slice(1)}`,
      'application/json',
      'malformed_json',
      400,
    ],
    ['a plain constructor key', { ...good, constructor: 'x' }, 'application/json', 'invalid_request', 400],
    [
      'empty strings',
      Object.fromEntries(Object.keys(good).map((k) => [k, ''])),
      'application/json',
      'invalid_request',
      400,
    ],
    ['invalid UTF-8', invalidUtf8, 'application/json', 'malformed_json', 400],
  ];
};

describe.each([ROUTES.request, ROUTES.confirm])('%s', (route) => {
  it.each(cases(route))('answers %s with a 4xx problem', async (_name, body, contentType, code, status) => {
    const response = await send(server.url, route, body, { contentType });

    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.json()).toMatchObject({ code, status });
    expect(response.text).not.toMatch(/at \w+ \(|node_modules|\.ts:\d+/);
  });
});

describe('field-level input rules', () => {
  it.each([
    ['a control character', 'some\u0000one@example.com'],
    ['a newline', 'someone@example.com\r\nBcc: x@example.com'],
    ['no @', 'someone.example.com'],
    ['a 300-character address', `${'a'.repeat(290)}@example.com`],
    ['a lone surrogate', 'some\uD800one@example.com'],
  ])('rejects an email with %s', async (_name, email) => {
    const response = await send(server.url, ROUTES.request, { email });

    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ code: 'invalid_request' });
  });

  it('answers a token of the wrong shape as invalid_or_expired_token, like any unknown token', async () => {
    const response = await send(server.url, ROUTES.confirm, {
      token: 'not-a-token',
      newPassword: 'long enough passphrase',
    });

    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ code: 'invalid_or_expired_token' });
  });

  it('lists each invalid field with its path', async () => {
    const response = await send(server.url, ROUTES.confirm, { token: 5, extra: 1 });

    const body = response.json() as { errors: Array<{ path: string }> };
    expect(body.errors.map((e) => e.path).sort()).toEqual(['', 'newPassword', 'token']);
  });
});
