import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../local/server';
import { ROUTES, send, startTestServer, tokenFromLink } from '../support/http';
import { type RangeStandIn, startRangeStandIn } from '../support/pwned-range-stand-in';

/** The 422 contract for each strength rule, and the breach check, through the real handlers. */
const EMAIL = 'strength.user@example.com';
const BREACHED = 'maple syrup tractor engine';
let server: LocalServer;
let ranges: RangeStandIn;

beforeAll(async () => {
  ranges = await startRangeStandIn([BREACHED]);
  server = await startTestServer({
    PASSWORD_BREACH_CHECK: 'hibp',
    PASSWORD_BREACH_CHECK_URL: ranges.url,
    PASSWORD_CONTEXT_WORDS: 'acmemarket',
  });
  await send(server.url, '/__local/users', { email: EMAIL, password: 'the original passphrase' });
});
afterAll(async () => {
  await server?.stop();
  await ranges?.stop();
});

async function freshToken(): Promise<string> {
  await send(server.url, ROUTES.request, { email: EMAIL });
  await server.emailSettled();
  return tokenFromLink(server.outbox.outbox().at(-1)?.link);
}

describe('weak passwords over HTTP', () => {
  it.each([
    ['aaaaaaaaaaaaaaa', 'repetitive'],
    ['123456789012345', 'sequential'],
    ['qwertyuiopasdfg', 'keyboard_pattern'],
    ['Password1234567', 'common_words'],
    ['\u200b'.repeat(15), 'not_visible'],
    ['strength.user and more words', 'not_email'],
    ['AcmeMarket velvet tulip', 'context_word'],
    [BREACHED, 'breached'],
  ])('answers %j with 422 weak_password naming %s, and the token still works', async (password, rule) => {
    const token = await freshToken();

    const weak = await send(server.url, ROUTES.confirm, { token, newPassword: password });

    expect(weak.status).toBe(422);
    expect(weak.headers['content-type']).toBe('application/problem+json');
    const body = weak.json();
    expect(body).toMatchObject({ code: 'weak_password', status: 422 });
    expect((body.violations as { rule: string }[]).map((v) => v.rule)).toContain(rule);
    const strong = await send(server.url, ROUTES.confirm, {
      token,
      newPassword: 'velvet tulip oyster canyon',
    });
    expect(strong.status).toBe(200);
  });

  it('asks the range service only for passwords that pass every other rule', async () => {
    const before = ranges.requests.length;
    const token = await freshToken();

    await send(server.url, ROUTES.confirm, { token, newPassword: 'aaaaaaaaaaaaaaa' });

    expect(ranges.requests.length).toBe(before);
  });
});
