import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../local/server';
import { ROUTES, send, stableHeaders, startTestServer } from '../support/http';

/** With the default RESET_METHODS=link, code mode is off: the same 400 for every address. */
let server: LocalServer;
const EMAIL = 'links.only@example.com';

beforeAll(async () => {
  server = await startTestServer();
  await send(server.url, '/__local/users', { email: EMAIL, password: 'first passphrase of mine' });
});
afterAll(() => server?.stop());

describe('a method that is not enabled', () => {
  it('is a 400 invalid_request naming the method, identical for known and unknown addresses', async () => {
    const known = await send(server.url, ROUTES.request, { email: EMAIL, method: 'code' });
    const unknown = await send(server.url, ROUTES.request, { email: 'nobody@example.com', method: 'code' });

    expect(known.status).toBe(400);
    expect(known.json()).toMatchObject({
      code: 'invalid_request',
      errors: [{ path: 'method', message: 'must be one of: link' }],
    });
    expect(unknown.text).toBe(known.text);
    expect(stableHeaders(unknown.headers)).toEqual(stableHeaders(known.headers));
    await server.emailSettled();
    expect(server.outbox.outbox()).toHaveLength(0);
  });

  it('leaves the enabled method working, named or not', async () => {
    const named = await send(server.url, ROUTES.request, { email: 'nobody@example.com', method: 'link' });
    const unnamed = await send(server.url, ROUTES.request, { email: 'nobody@example.com' });

    expect(named.status).toBe(200);
    expect(unnamed.text).toBe(named.text);
  });

  it('refuses a method that does not exist as invalid_request', async () => {
    const answer = await send(server.url, ROUTES.request, { email: EMAIL, method: 'sms' });

    expect(answer.status).toBe(400);
    expect(answer.json().code).toBe('invalid_request');
  });
});
