import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowKey } from '../../lib/codes/code';
import { FlowStore } from '../../lib/codes/flow-store';
import type { LocalServer } from '../../local/server';
import { ROUTES, send, stableHeaders, startTestServer, tokenFromLink } from '../support/http';

/**
 * Code mode over HTTP, through the same handlers AWS runs, on DynamoDB Local: the full flow, the
 * attempt budget (sequential and concurrent), the account budget, supersession across methods,
 * and phantom flows that answer exactly as real ones. Default code settings (8 digits, 5 attempts,
 * 10 failed codes per account a day); only the per-IP and per-account request limits are lifted.
 */
let server: LocalServer;
let flows: FlowStore;
const OLD_PASSWORD = 'first passphrase of mine';
const NEW_PASSWORD = 'second passphrase of mine';

beforeAll(async () => {
  server = await startTestServer({ RESET_METHODS: 'link,code' });
  flows = new FlowStore(server.documentClient, server.config.tokenTableName);
});
afterAll(() => server?.stop());

async function newUser(): Promise<string> {
  const email = `code-${randomUUID().slice(0, 8)}@example.com`;
  const created = await send(server.url, '/__local/users', { email, password: OLD_PASSWORD });
  expect(created.status).toBe(201);
  return email;
}

const login = async (email: string, password: string) =>
  (await send(server.url, '/__local/login', { email, password })).status;

async function requestCode(email: string): Promise<string> {
  const answer = await send(server.url, ROUTES.request, { email, method: 'code' });
  expect(answer.status).toBe(200);
  return answer.json().flowId as string;
}

/** The newest code emailed to this address (mail is sent asynchronously: wait for the queue). */
async function emailedCode(email: string): Promise<string> {
  await server.emailSettled();
  const code = server.outbox
    .outbox()
    .findLast((m) => m.to === email && m.template === 'password_reset_code')?.code;
  if (!code) throw new Error(`no code emailed to ${email}`);
  return code;
}

/** A code of the right length that is not the right one. */
const wrongCode = (right: string, offset = 1) =>
  String((Number(right) + offset) % 10 ** right.length).padStart(right.length, '0');

const confirmCode = (flowId: string, code: string, newPassword = NEW_PASSWORD) =>
  send(server.url, ROUTES.confirm, { flowId, code, newPassword });

describe('requesting a code', () => {
  it('answers a flowId of 22 base64url characters and emails an 8-digit code', async () => {
    const email = await newUser();

    const answer = await send(server.url, ROUTES.request, { email, method: 'code' });

    expect(answer.status).toBe(200);
    expect(Object.keys(answer.json())).toEqual(['message', 'flowId']);
    expect(answer.json().flowId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const code = await emailedCode(email);
    expect(code).toMatch(/^[0-9]{8}$/);
    const message = server.outbox.outbox().findLast((m) => m.to === email);
    expect(message?.subject).not.toContain(code);
    expect(message?.html).toContain(code);
  });

  it('still answers a link request without a flowId', async () => {
    const answer = await send(server.url, ROUTES.request, { email: await newUser() });

    expect(answer.status).toBe(200);
    expect(Object.keys(answer.json())).toEqual(['message']);
  });
});

describe('confirming with a code', () => {
  it('sets the new password with the right code, and the new password signs in', async () => {
    const email = await newUser();
    const flowId = await requestCode(email);
    const code = await emailedCode(email);

    const answer = await confirmCode(flowId, code);

    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({
      message: 'Your password has been changed. Sign in with your new password.',
    });
    expect(await login(email, NEW_PASSWORD)).toBe(200);
    expect(await login(email, OLD_PASSWORD)).toBe(401);
    expect((await confirmCode(flowId, code, 'yet another passphrase here')).json().code).toBe(
      'invalid_or_expired_code',
    );
  });

  it('refuses a weak password with 422 and leaves the code usable', async () => {
    const email = await newUser();
    const flowId = await requestCode(email);
    const code = await emailedCode(email);

    const weak = await confirmCode(flowId, code, 'password');
    const withEmail = await confirmCode(flowId, code, `${email} is my password now`);

    expect(weak.status).toBe(422);
    expect(withEmail.status).toBe(422);
    expect(withEmail.json().violations).toContainEqual(expect.objectContaining({ rule: 'not_email' }));
    expect(await flows.attempts(flowKey(flowId))).toBe(0);
    expect((await confirmCode(flowId, code)).status).toBe(200);
  });

  it('refuses even the right code after five wrong ones', async () => {
    const email = await newUser();
    const flowId = await requestCode(email);
    const code = await emailedCode(email);

    const wrong = [];
    for (let i = 1; i <= 5; i++) wrong.push((await confirmCode(flowId, wrongCode(code, i))).status);
    const right = await confirmCode(flowId, code);

    expect(wrong).toEqual([400, 400, 400, 400, 400]);
    expect(right.status).toBe(400);
    expect(right.json().code).toBe('invalid_or_expired_code');
    expect(await login(email, OLD_PASSWORD)).toBe(200);
  });

  it('counts 20 concurrent wrong guesses as 20, so the right code after them is refused', async () => {
    const email = await newUser();
    const flowId = await requestCode(email);
    const code = await emailedCode(email);

    const guesses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => confirmCode(flowId, wrongCode(code, i + 1))),
    );
    const right = await confirmCode(flowId, code);

    expect(guesses.map((g) => g.json().code)).toEqual(Array(20).fill('invalid_or_expired_code'));
    // Exactly the budget was charged (and so compared); the other 15 never reached a comparison.
    expect(await flows.attempts(flowKey(flowId))).toBe(5);
    expect(right.status).toBe(400);
    expect(await login(email, OLD_PASSWORD)).toBe(200);
  });

  it('keeps the failed-code budget per account across new flows', async () => {
    const email = await newUser();
    for (let flow = 0; flow < 2; flow++) {
      const flowId = await requestCode(email);
      const code = await emailedCode(email);
      for (let i = 1; i <= 5; i++) await confirmCode(flowId, wrongCode(code, i));
    }
    const flowId = await requestCode(email);
    const code = await emailedCode(email);

    const right = await confirmCode(flowId, code);

    expect(right.status).toBe(400);
    expect(right.json().code).toBe('invalid_or_expired_code');
    expect(await login(email, OLD_PASSWORD)).toBe(200);
  });

  it('gives a right code its account charge back, so it does not count as a failure', async () => {
    const email = await newUser();
    // Nine failures, then a right code that is refused for another reason (superseded): the
    // budget still has one failure left for the next flow, so its right code works.
    const first = await requestCode(email);
    const firstCode = await emailedCode(email);
    for (let i = 1; i <= 5; i++) await confirmCode(first, wrongCode(firstCode, i));
    const second = await requestCode(email);
    const secondCode = await emailedCode(email);
    for (let i = 1; i <= 4; i++) await confirmCode(second, wrongCode(secondCode, i));
    const third = await requestCode(email);
    const thirdCode = await emailedCode(email);

    const superseded = await confirmCode(second, secondCode);
    const right = await confirmCode(third, thirdCode);

    expect(superseded.status).toBe(400);
    expect(right.status).toBe(200);
  });

  it('answers 400 invalid_request for a body that mixes a token and a code', async () => {
    const answer = await send(server.url, ROUTES.confirm, {
      token: 'x',
      flowId: 'AAAAAAAAAAAAAAAAAAAAAA',
      code: '12345678',
      newPassword: NEW_PASSWORD,
    });

    expect(answer.status).toBe(400);
    expect(answer.json().code).toBe('invalid_request');
  });
});

describe('one active credential across methods', () => {
  it('a new link supersedes an outstanding code', async () => {
    const email = await newUser();
    const flowId = await requestCode(email);
    const code = await emailedCode(email);
    await send(server.url, ROUTES.request, { email, method: 'link' });
    await server.emailSettled();
    const link = server.outbox
      .outbox()
      .findLast((m) => m.to === email && m.template === 'password_reset')?.link;

    const byCode = await confirmCode(flowId, code);
    const byLink = await send(server.url, ROUTES.confirm, {
      token: tokenFromLink(link),
      newPassword: NEW_PASSWORD,
    });

    expect(byCode.status).toBe(400);
    expect(byCode.json().code).toBe('invalid_or_expired_code');
    expect(byLink.status).toBe(200);
  });

  it('a new code supersedes an outstanding link', async () => {
    const email = await newUser();
    await send(server.url, ROUTES.request, { email });
    await server.emailSettled();
    const link = server.outbox
      .outbox()
      .findLast((m) => m.to === email && m.template === 'password_reset')?.link;
    const flowId = await requestCode(email);
    const code = await emailedCode(email);

    const byLink = await send(server.url, ROUTES.confirm, {
      token: tokenFromLink(link),
      newPassword: NEW_PASSWORD,
    });
    const byCode = await confirmCode(flowId, code);

    expect(byLink.status).toBe(400);
    expect(byLink.json().code).toBe('invalid_or_expired_token');
    expect(byCode.status).toBe(200);
  });

  it('a new code supersedes the previous code', async () => {
    const email = await newUser();
    const first = await requestCode(email);
    const firstCode = await emailedCode(email);
    const second = await requestCode(email);
    const secondCode = await emailedCode(email);

    expect((await confirmCode(first, firstCode)).status).toBe(400);
    expect((await confirmCode(second, secondCode)).status).toBe(200);
  });
});

describe('phantom flows', () => {
  it('answer the request exactly as a real flow does, but for the flowId', async () => {
    const known = await send(server.url, ROUTES.request, { email: await newUser(), method: 'code' });
    const unknown = await send(server.url, ROUTES.request, {
      email: `nobody-${randomUUID()}@example.com`,
      method: 'code',
    });

    expect(unknown.status).toBe(known.status);
    expect(stableHeaders(unknown.headers)).toEqual(stableHeaders(known.headers));
    expect({ ...unknown.json(), flowId: 'x' }).toEqual({ ...known.json(), flowId: 'x' });
    expect(unknown.text.length).toBe(known.text.length);
  });

  it('answer a confirm exactly as a real flow with a wrong code, and charge the same budget', async () => {
    const email = await newUser();
    const realFlow = await requestCode(email);
    const code = await emailedCode(email);
    const phantomFlow = await requestCode(`nobody-${randomUUID()}@example.com`);

    const real = await confirmCode(realFlow, wrongCode(code));
    const phantom = await confirmCode(phantomFlow, wrongCode(code));

    expect(phantom.status).toBe(real.status);
    expect(phantom.text).toBe(real.text);
    expect(stableHeaders(phantom.headers)).toEqual(stableHeaders(real.headers));
    expect(await flows.attempts(flowKey(phantomFlow))).toBe(1);
    expect(await flows.attempts(flowKey(realFlow))).toBe(1);
  });

  it('answer an unknown flowId the same way', async () => {
    const answer = await confirmCode('AAAAAAAAAAAAAAAAAAAAAA', '12345678');
    const malformed = await confirmCode('not-a-flow', '12345678');

    expect(answer.json().code).toBe('invalid_or_expired_code');
    expect(malformed.text).toBe(answer.text);
  });
});
