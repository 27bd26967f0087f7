import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect, vi } from 'vitest';
import { REQUEST_ACCEPTED_BODY } from '../../lib/http/schemas';
import type { LocalServer } from '../../local/server';
import { ROUTES, send, startTestServer } from '../support/http';
import { report, SIZES } from '../support/sizes';

vi.setConfig({ testTimeout: SIZES.timeoutMs });

/**
 * Property-based hostile input on both endpoints, over HTTP: whatever arrives, the answer is a
 * 4xx problem+json with a code, or the fixed success body; never a 5xx, never a hang.
 */
let server: LocalServer;
beforeAll(async () => {
  server = await startTestServer({ REQUEST_RESPONSE_FLOOR_MS: '0' });
});
afterAll(() => server?.stop());

const KEYS = ['email', 'token', 'newPassword', '__proto__', 'constructor', 'prototype', 'toString'];
const text = fc.string({ unit: 'binary', maxLength: 300 });
const value = fc.oneof(text, fc.jsonValue({ maxDepth: 4 }), fc.string({ minLength: 2000, maxLength: 9000 }));
const key = fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 20 }));

/** Bodies as raw text or bytes, so that invalid JSON and invalid UTF-8 reach the server too. */
const body: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
  fc.dictionary(key, value, { maxKeys: 5 }).map((o) => JSON.stringify(o)),
  fc.tuple(key, value, value).map(([k, a, b]) => `{"${k}":${JSON.stringify(a)},"${k}":${JSON.stringify(b)}}`),
  fc.tuple(fc.constantFrom('[', '{"a":'), fc.integer({ min: 1, max: 3000 })).map(([open, depth]) => {
    const close = open === '[' ? ']' : '}';
    return `${open.repeat(depth)}1${close.repeat(depth)}`;
  }),
  fc.record({ email: value }).map((o) => JSON.stringify(o)),
  fc.record({ token: value, newPassword: value }).map((o) => JSON.stringify(o)),
  fc
    .record({ token: fc.stringMatching(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/), newPassword: text })
    .map((o) => JSON.stringify(o)),
  fc.emailAddress().map((email) => JSON.stringify({ email })),
  fc
    .tuple(fc.stringMatching(/^[a-z0-9]{1,20}$/), fc.constantFrom('example.com', 'Market.Example.org'))
    .map(([local, domain]) => JSON.stringify({ email: ` ${local}@${domain} ` })),
  text,
  fc.uint8Array({ maxLength: 5000 }),
);
const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  fc.constantFrom(
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/vnd.api+json',
    null,
    '',
  ),
  fc.stringMatching(/^[\x20-\x7e]{0,60}$/),
);

const successBodies = new Set([REQUEST_ACCEPTED_BODY]);
const tally: Record<string, Record<number, number>> = {};

describe.each([ROUTES.request, ROUTES.confirm])('%s', (route) => {
  test.prop([body, contentType], { numRuns: SIZES.fuzzRuns })(
    'answers any input with a 4xx problem or the fixed success body',
    async (payload, type) => {
      const response = await send(server.url, route, payload, {
        contentType: type,
        signal: AbortSignal.timeout(10_000),
      });

      tally[route] ??= {};
      (tally[route] as Record<number, number>)[response.status] =
        ((tally[route] as Record<number, number>)[response.status] ?? 0) + 1;
      expect(response.status).toBeLessThan(500);
      if (response.status === 200) {
        expect(successBodies.has(response.text)).toBe(true);
      } else {
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.headers['content-type']).toBe('application/problem+json');
        expect(typeof response.json().code).toBe('string');
      }
    },
  );
});

afterAll(() => {
  for (const [route, statuses] of Object.entries(tally)) report(`hostile input ${route}`, statuses);
});
