import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signedUpdateItem, type UpdateItem } from '../../lib/aws/update-item';
import { confirmReset } from '../../lib/confirm-reset';
import { sdkUpdateItem } from '../../lib/dynamo';
import { RateLimiter } from '../../lib/limits/rate-limiter';
import type { LocalServer } from '../../local/server';
import { createTestWorld, type TestWorld } from '../support/deps';
import { ROUTES, send, stableHeaders, startTestServer } from '../support/http';

/** Abuse resistance: counters that never overshoot, and no limit that reveals an account. */
let world: TestWorld;
beforeAll(async () => {
  world = await createTestWorld();
});
afterAll(() => world?.destroy());

/** The same limiter over both ways of sending its UpdateItem: the SDK client, and the signed call. */
const ADAPTERS: Array<[string, (world: TestWorld) => UpdateItem]> = [
  ['the SDK client', (world) => sdkUpdateItem(world.rawClient)],
  [
    'the signed call',
    () =>
      signedUpdateItem({
        maxAttempts: 3,
        connectionTimeoutMs: 1_000,
        requestTimeoutMs: 2_000,
        env: { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint') },
      }),
  ],
];

describe.each(ADAPTERS)('the DynamoDB rate limiter over %s', (_name, adapter) => {
  // Tables of its own per adapter: the cases reuse their keys.
  let world: TestWorld;
  beforeAll(async () => {
    world = await createTestWorld();
  });
  afterAll(() => world?.destroy());
  const updateItem = () => adapter(world);

  it('never lets a concurrent burst overshoot the limit', async () => {
    const limiter = new RateLimiter(updateItem(), world.config.tokenTableName);
    const rules = [{ limit: 10, windowSeconds: 60 }];

    const decisions = await Promise.all(
      Array.from({ length: 60 }, () => limiter.hit('burst', 'k', rules, world.clock.now())),
    );

    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(decisions.filter((d) => !d.allowed)).toHaveLength(50);
  });

  it('enforces every rule of a list and says when to retry', async () => {
    const limiter = new RateLimiter(updateItem(), world.config.tokenTableName);
    const rules = [
      { limit: 1, windowSeconds: 60 },
      { limit: 3, windowSeconds: 3600 },
    ];
    // An hour boundary a day ahead: aligned windows, and TTLs that DynamoDB Local will not reap.
    const hour = Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 86_400_000;
    const at = (seconds: number) => hour + seconds * 1000;

    const first = await limiter.hit('multi', 'k', rules, at(0));
    const second = await limiter.hit('multi', 'k', rules, at(10));
    const afterMinute = await limiter.hit('multi', 'k', rules, at(61));
    const third = await limiter.hit('multi', 'k', rules, at(130));
    const fourth = await limiter.hit('multi', 'k', rules, at(200));

    expect(first).toEqual({ allowed: true });
    expect(second).toEqual({ allowed: false, retryAfterSeconds: 50 });
    expect(afterMinute).toEqual({ allowed: true });
    expect(third).toEqual({ allowed: true });
    expect(fourth).toEqual({ allowed: false, retryAfterSeconds: 3400 });
  });

  it('keeps every rule of a key in one item that holds only the live windows', async () => {
    const limiter = new RateLimiter(updateItem(), world.config.tokenTableName);
    const rules = [
      { limit: 5, windowSeconds: 60 },
      { limit: 50, windowSeconds: 3600 },
    ];
    const hour = Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 86_400_000;

    for (const minute of [0, 1, 2]) await limiter.hit('one-item', 'k', rules, hour + minute * 60_000);

    const items = (await world.scanAll()).filter((item) =>
      String(item.pk?.S ?? '').startsWith('rate#one-item#'),
    );
    expect(items).toHaveLength(1);
    const counters = Object.keys(items[0] ?? {})
      .filter((name) => name.startsWith('w'))
      .sort();
    const start = hour / 1000;
    expect(counters).toEqual([`w3600_${start}`, `w60_${start + 120}`]);
  });

  it('gives back a refunded event, never below zero', async () => {
    const limiter = new RateLimiter(updateItem(), world.config.tokenTableName);
    const rules = [{ limit: 2, windowSeconds: 60 }];
    const now = world.clock.now();

    await limiter.hit('refund', 'k', rules, now);
    await limiter.hit('refund', 'k', rules, now);
    await limiter.refund('refund', 'k', rules, now);
    await limiter.refund('refund', 'k', rules, now);
    await limiter.refund('refund', 'k', rules, now);

    const after = await Promise.all([1, 2, 3].map(() => limiter.hit('refund', 'k', rules, now)));
    expect(after.filter((d) => d.allowed)).toHaveLength(2);
  });
});

describe('limits over HTTP', () => {
  let server: LocalServer;
  const EMAIL = 'limited@example.com';
  beforeAll(async () => {
    server = await startTestServer({
      RATE_LIMIT_REQUEST_IP: '8/1h',
      RATE_LIMIT_REQUEST_ACCOUNT: '1/60s,3/1h',
      RATE_LIMIT_CONFIRM_IP: '100/1h',
      RATE_LIMIT_CONFIRM_FAILURES_IP: '4/1h',
    });
    await server.accounts.create(EMAIL, 'a perfectly fine passphrase');
  });
  afterAll(() => server?.stop());

  it('throttles one account silently: same 200, same body and headers, one email', async () => {
    const responses = [];
    for (let i = 0; i < 3; i++) responses.push(await send(server.url, ROUTES.request, { email: EMAIL }));
    const unknown = await send(server.url, ROUTES.request, { email: 'unknown.person@example.com' });

    for (const response of [...responses, unknown]) {
      expect(response.status).toBe(200);
      expect(response.text).toBe(responses[0]?.text);
      expect(stableHeaders(response.headers)).toEqual(stableHeaders(responses[0]?.headers ?? {}));
    }
    await server.emailSettled();
    expect(
      server.outbox.outbox().filter((m) => m.to === EMAIL && m.template === 'password_reset'),
    ).toHaveLength(1);
  });

  it('answers 429 rate_limited with Retry-After only from the per-IP limit, for known and unknown emails alike', async () => {
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof send>> | undefined;
    for (let i = 0; i < 6; i++) {
      const email = i % 2 ? EMAIL : `nobody${i}@example.com`;
      const response = await send(server.url, ROUTES.request, { email });
      statuses.push(response.status);
      if (response.status === 429) limited ??= response;
    }

    // 4 requests were spent by the previous test; the IP limit is 8 an hour.
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    expect(limited?.json()).toMatchObject({ code: 'rate_limited', status: 429 });
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited?.headers['content-type']).toBe('application/problem+json');
  });

  it('limits failed token attempts per IP on confirm', async () => {
    const guesses = [];
    for (let i = 0; i < 6; i++) {
      guesses.push(
        await send(server.url, ROUTES.confirm, {
          token: `${'A'.repeat(21)}${i}.${'B'.repeat(43)}`,
          newPassword: 'whatever it is here',
        }),
      );
    }

    expect(guesses.map((r) => r.status)).toEqual([400, 400, 400, 400, 429, 429]);
    expect(guesses[4]?.json()).toMatchObject({ code: 'rate_limited' });
  });
});

describe('confirm failure budget', () => {
  it('does not charge a successful reset or a weak password against the failure budget', async () => {
    const local = await createTestWorld({ RATE_LIMIT_CONFIRM_FAILURES_IP: '2/1h' });
    await local.accounts.create('budget@example.com', 'original passphrase x');
    const meta = { sourceIp: '198.51.100.1', requestId: 'r' };

    for (let i = 0; i < 3; i++) {
      await local.requestReset({ email: 'budget@example.com', ...meta });
      const token = local.lastToken();
      expect(
        (await confirmReset({ token, newPassword: 'short', ...meta }, local.confirmDeps)).status,
        JSON.stringify(local.audits.slice(-4)),
      ).toBe('weak_password');
      expect(
        (await confirmReset({ token, newPassword: `new passphrase number ${i}`, ...meta }, local.confirmDeps))
          .status,
      ).toBe('completed');
    }
    local.destroy();
  });
});

describe('audit lines', () => {
  it('carry the request id, a pseudonymous account key and the IP, and no secret', async () => {
    await world.accounts.create('audited@example.com', 'original passphrase y');
    const meta = { sourceIp: '192.0.2.55', requestId: 'req-123' };

    await world.requestReset({ email: 'Audited@Example.com', ...meta });
    const token = world.lastToken();
    await confirmReset({ token, newPassword: 'brand new secret phrase', ...meta }, world.confirmDeps);

    const events = world.audits.filter((a) => a.context.requestId === 'req-123');
    expect(
      events.map((a) => a.entry.event),
      JSON.stringify(world.audits.slice(-6)),
    ).toEqual(['reset_requested', 'reset_email_sent', 'reset_completed', 'password_changed_notice']);
    const accountKey = world.requestDeps.pseudonymize('account', 'audited@example.com');
    for (const { context } of events) {
      expect(context).toEqual({ requestId: 'req-123', sourceIp: '192.0.2.55', accountKey });
    }
    const text = JSON.stringify(events);
    for (const secret of [
      token,
      token.split('.')[1],
      'brand new secret phrase',
      'audited@example.com',
      'Audited',
    ]) {
      expect(text).not.toContain(secret);
    }
  });
});
