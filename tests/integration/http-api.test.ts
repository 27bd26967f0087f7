import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalServer } from '../../local/server';
import { ROUTES, send, stableHeaders, startTestServer, tokenFromLink } from '../support/http';
import { captureOutput } from '../support/log-capture';

/** The HTTP contract, through the same handlers AWS runs, on DynamoDB Local and the SSM stand-in. */
let server: LocalServer;
const EMAIL = 'http.user@example.com';
const OLD_PASSWORD = 'first passphrase of mine';
const NEW_PASSWORD = 'second passphrase of mine';

beforeAll(async () => {
  server = await startTestServer();
  await send(server.url, '/__local/users', { email: EMAIL, password: OLD_PASSWORD });
});
afterAll(async () => {
  vi.useRealTimers();
  await server?.stop();
});

const requestReset = (body: unknown) => send(server.url, ROUTES.request, body);
const confirmReset = (body: unknown) => send(server.url, ROUTES.confirm, body);
/** Mail is sent asynchronously by the sender function: wait for the queue to drain first. */
const lastLink = async () => {
  await server.emailSettled();
  return server.outbox.outbox().at(-1)?.link;
};

describe('the request endpoint', () => {
  it('gives an unknown email the identical status, body and headers', async () => {
    const known = await requestReset({ email: EMAIL });
    const unknown = await requestReset({ email: 'no.such.user@example.com' });

    expect(known.status).toBe(200);
    expect(unknown.status).toBe(known.status);
    expect(unknown.text).toBe(known.text);
    expect(stableHeaders(unknown.headers)).toEqual(stableHeaders(known.headers));
  });

  it('sets no-store and the security headers', async () => {
    const response = await requestReset({ email: EMAIL });

    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
  });
});

describe('a full reset over HTTP', () => {
  it('resets the password and never signs the user in', async () => {
    await requestReset({ email: EMAIL.toUpperCase() });
    const token = tokenFromLink(await lastLink());

    const confirm = await confirmReset({ token, newPassword: NEW_PASSWORD });

    expect(confirm.status).toBe(200);
    expect(confirm.headers['set-cookie']).toBeUndefined();
    expect(confirm.headers.authorization).toBeUndefined();
    expect(Object.keys(confirm.json())).toEqual(['message']);
    expect(confirm.headers['cache-control']).toBe('no-store');
    const oldLogin = await send(server.url, '/__local/login', { email: EMAIL, password: OLD_PASSWORD });
    const newLogin = await send(server.url, '/__local/login', { email: EMAIL, password: NEW_PASSWORD });
    expect(oldLogin.status).toBe(401);
    expect(newLogin.status).toBe(200);
  });

  it('answers a reused token with invalid_or_expired_token as problem+json', async () => {
    await requestReset({ email: EMAIL });
    const token = tokenFromLink(await lastLink());
    await confirmReset({ token, newPassword: 'third passphrase of mine' });

    const reused = await confirmReset({ token, newPassword: 'fourth passphrase of mine' });

    expect(reused.status).toBe(400);
    expect(reused.headers['content-type']).toBe('application/problem+json');
    expect(reused.json()).toMatchObject({ code: 'invalid_or_expired_token', status: 400 });
  });

  it('answers a weak password with weak_password and the rules it broke', async () => {
    await requestReset({ email: EMAIL });

    const response = await confirmReset({ token: tokenFromLink(await lastLink()), newPassword: 'password' });

    expect(response.status).toBe(422);
    expect(response.json()).toMatchObject({
      code: 'weak_password',
      violations: [{ rule: 'min_length' }, { rule: 'common_words' }],
    });
  });
});

describe('the kill-switch over the real SSM code path', () => {
  const waitForCache = () => vi.setSystemTime(Date.now() + (server.config.killSwitchCacheSeconds + 6) * 1000);

  it('delivers nothing while disabled, renders without delivering in dry run, and fails closed without SSM', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const sent = () => server.outbox.outbox().length;
    await server.emailSettled();
    const baseline = sent();

    await send(server.url, '/__local/kill-switch', { enabled: false, dryRun: false }, { method: 'PUT' });
    waitForCache();
    const disabled = await requestReset({ email: EMAIL });
    await server.emailSettled();
    expect(disabled.status).toBe(200);
    expect(sent()).toBe(baseline);

    server.setKillSwitch({ enabled: true, dryRun: true });
    waitForCache();
    const output = captureOutput();
    try {
      await requestReset({ email: EMAIL });
      await server.emailSettled();
    } finally {
      output.restore();
    }
    expect(sent()).toBe(baseline);
    expect(output.text()).toContain('email_dry_run');
    expect(output.text()).toContain('[REDACTED]');

    server.setKillSwitch({ enabled: true, dryRun: false });
    await server.ssm.pause();
    waitForCache();
    const outage = captureOutput();
    let response: Awaited<ReturnType<typeof requestReset>>;
    try {
      response = await requestReset({ email: EMAIL });
      // The worker cannot read the switch: it sends nothing and puts the job back for later.
      for (let i = 0; i < 500 && !outage.text().includes('reset_job_retry_scheduled'); i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      outage.restore();
    }
    expect(response.status).toBe(200);
    expect(sent()).toBe(baseline);
    expect(outage.text()).toContain('kill_switch_unavailable');
    expect(outage.text()).toContain('"KillSwitchUnavailable":1');
    expect(outage.text()).toContain('reset_job_retry_scheduled');

    await server.ssm.resume();
    // Past the switch's cache and the job's backoff: the reset asked for during the outage goes out.
    waitForCache();
    await server.emailSettled();
    expect(sent()).toBe(baseline + 1);
    await requestReset({ email: EMAIL });
    await server.emailSettled();
    expect(sent()).toBe(baseline + 2);
    vi.useRealTimers();
  });
});

describe('local-only routes', () => {
  it('lists the outbox with the fields the README promises', async () => {
    const response = await send(server.url, '/__local/outbox', undefined, { method: 'GET' });

    const messages = response.json() as unknown as Array<Record<string, unknown>>;
    const reset = messages.find((m) => m.template === 'password_reset');
    expect(Object.keys(reset ?? {}).sort()).toEqual([
      'html',
      'link',
      'provider',
      'subject',
      'template',
      'text',
      'to',
    ]);
  });

  it('refuses a second account with the same email', async () => {
    const response = await send(server.url, '/__local/users', {
      email: EMAIL,
      password: 'whatever passphrase',
    });

    expect(response.status).toBe(409);
  });

  it('answers other methods on the API routes with 405 problem+json', async () => {
    const response = await send(server.url, ROUTES.request, undefined, { method: 'GET' });

    expect(response.status).toBe(405);
    expect(response.headers['content-type']).toBe('application/problem+json');
  });
});
