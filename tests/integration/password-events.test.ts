import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passwordChangedDetail } from '../../lib/events/password-changed';
import type { EventEnvelope } from '../../local/eventbridge-stand-in';
import type { LocalServer } from '../../local/server';
import { ROUTES, send, startTestServer, tokenFromLink } from '../support/http';
import { report } from '../support/sizes';

/**
 * PasswordChanged end to end, as `npm start` runs it: HTTP confirm -> the transaction with its
 * outbox item -> DynamoDB Local's stream -> the stream reader -> the publisher handler ->
 * the EventBridge stand-in -> GET /__local/events.
 */
let server: LocalServer;
beforeAll(async () => {
  server = await startTestServer({ PASSWORD_CHANGED_EVENTS: 'true' });
});
afterAll(() => server?.stop());

const PASSWORD = 'the starting passphrase';
let users = 0;

async function newUser(): Promise<{ email: string; userId: string }> {
  const email = `events-${++users}-${Date.now()}@example.com`;
  const created = await server.accounts.create(email, PASSWORD, 4);
  if ('conflict' in created) throw new Error('seed');
  return { email, userId: created.userId };
}

async function tokenFor(email: string): Promise<string> {
  const response = await send(server.url, ROUTES.request, { email });
  expect(response.status).toBe(200);
  await server.emailSettled();
  return tokenFromLink(server.outbox.outbox().findLast((m) => m.to === email && m.link)?.link);
}

const confirm = (token: string, newPassword: string) =>
  send(server.url, ROUTES.confirm, { token, newPassword });

async function events(): Promise<EventEnvelope[]> {
  const response = await send(server.url, '/__local/events', undefined, { method: 'GET' });
  expect(response.status).toBe(200);
  return JSON.parse(response.text) as EventEnvelope[];
}

const detailOf = (event: EventEnvelope) => passwordChangedDetail.parse(event.detail);

async function waitForEvents(
  predicate: (all: EventEnvelope[]) => boolean,
  timeoutMs = 30_000,
): Promise<EventEnvelope[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await events();
    if (predicate(all)) return all;
    if (Date.now() > deadline) throw new Error(`events did not arrive: ${all.length} so far`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const forUser = (all: EventEnvelope[], userId: string) => all.filter((e) => detailOf(e).userId === userId);

/**
 * "Nothing was published" is only worth asserting once the reader has read past the point where
 * the event would be: a later reset's event (a sentinel) proves the stream was read that far.
 */
async function afterSentinel(): Promise<EventEnvelope[]> {
  const sentinel = await newUser();
  expect((await confirm(await tokenFor(sentinel.email), 'sentinel passphrase here')).status).toBe(200);
  return waitForEvents((all) => forUser(all, sentinel.userId).length === 1);
}

async function outboxItems(): Promise<Array<Record<string, unknown>>> {
  const scan = await server.documentClient.send(
    new ScanCommand({
      TableName: server.config.tokenTableName,
      FilterExpression: 'begins_with(pk, :outbox)',
      ExpressionAttributeValues: { ':outbox': 'outbox#' },
      ConsistentRead: true,
    }),
  );
  return scan.Items ?? [];
}

describe('a committed reset', () => {
  it('publishes exactly one PasswordChanged event with the userId and the new credentialVersion', async () => {
    const { email, userId } = await newUser();

    const first = await confirm(await tokenFor(email), 'first new passphrase');
    const afterFirst = await waitForEvents((all) => forUser(all, userId).length === 1);
    const second = await confirm(await tokenFor(email), 'second new passphrase');
    const all = await waitForEvents((all) => forUser(all, userId).length === 2);
    await afterSentinel();

    expect([first.status, second.status]).toEqual([200, 200]);
    const mine = forUser(await events(), userId);
    expect(mine).toHaveLength(2);
    const stored = await server.accounts.get(userId);
    const [one, two] = mine.map(detailOf);
    expect(one?.credentialVersion).toBe(1);
    expect(two?.credentialVersion).toBe(2);
    expect(stored?.credentialVersion).toBe(2);
    expect(two?.changedAt).toBe(stored?.passwordChangedAt);
    expect(two?.method).toBe('link');
    expect(mine[1]).toMatchObject({ source: 'password-reset', 'detail-type': 'PasswordChanged' });
    expect(mine[1]?.time).toBe(`${String(stored?.passwordChangedAt).slice(0, 19)}Z`);
    expect(afterFirst.length).toBeLessThan(all.length);
    const text = JSON.stringify(mine);
    expect(text).not.toContain(email);
    expect(text).not.toContain(String(stored?.passwordHash));
    expect(text).not.toMatch(/token|hash|email/i);
  });
});

describe('a publish that EventBridge rejects', () => {
  it('is retried from the failed record until the event is on the bus, and published once', async () => {
    const { email, userId } = await newUser();
    const bus = server.passwordEvents?.bus;
    const callsBefore = bus?.putCalls ?? 0;
    bus?.failNextEntries(3);

    const answer = await confirm(await tokenFor(email), 'a retried passphrase');
    await waitForEvents((all) => forUser(all, userId).length === 1);
    await afterSentinel();

    expect(answer.status).toBe(200);
    expect(forUser(await events(), userId)).toHaveLength(1);
    expect((bus?.putCalls ?? 0) - callsBefore).toBeGreaterThanOrEqual(4);
  });
});

describe('a confirm that changes nothing', () => {
  it('publishes nothing for a weak password, a used token or a superseded token', async () => {
    const { email, userId } = await newUser();
    const token = await tokenFor(email);

    const weak = await confirm(token, 'password');
    const good = await confirm(token, 'a fine new passphrase');
    const reused = await confirm(token, 'another fine passphrase');
    const older = await tokenFor(email);
    await tokenFor(email);
    const superseded = await confirm(older, 'yet another passphrase');
    await afterSentinel();

    expect([weak.status, good.status, reused.status, superseded.status]).toEqual([422, 200, 400, 400]);
    expect(forUser(await events(), userId)).toHaveLength(1);
  });

  it('publishes one event for a race of concurrent confirms of one token', async () => {
    const { email, userId } = await newUser();
    const token = await tokenFor(email);

    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => confirm(token, `racing passphrase ${i}`)),
    );
    await afterSentinel();

    const winners = answers.filter((answer) => answer.status === 200).length;
    const stored = await server.accounts.get(userId);
    expect(stored?.credentialVersion).toBe(1);
    expect(winners).toBeLessThanOrEqual(1);
    const mine = forUser(await events(), userId);
    expect(mine).toHaveLength(1);
    expect(detailOf(mine[0] as EventEnvelope).credentialVersion).toBe(1);
  });
});

describe('many resets', () => {
  it('publishes 500 distinct events for 500 resets, one per outbox item', async () => {
    const before = (await events()).length;
    const seeded: Array<{ email: string; userId: string }> = [];
    while (seeded.length < 500)
      seeded.push(...(await Promise.all(Array.from({ length: 25 }, () => newUser()))));
    const started = Date.now();
    const statuses: number[] = [];
    for (let start = 0; start < seeded.length; start += 20) {
      const batch = await Promise.all(
        seeded
          .slice(start, start + 20)
          .map(
            async (user, i) =>
              (await confirm(await tokenFor(user.email), `bulk passphrase ${start + i}`)).status,
          ),
      );
      statuses.push(...batch);
    }
    const committedMs = Date.now() - started;
    const ids = new Set(seeded.map((user) => user.userId));
    const all = await waitForEvents(
      (all) => all.filter((e) => ids.has(detailOf(e).userId)).length >= 500,
      120_000,
    );
    const publishedMs = Date.now() - started;

    expect(statuses.filter((status) => status === 200)).toHaveLength(500);
    const mine = all.filter((e) => ids.has(detailOf(e).userId)).map(detailOf);
    expect(mine).toHaveLength(500);
    expect(new Set(mine.map((d) => d.eventId)).size).toBe(500);
    expect(new Set(mine.map((d) => d.userId)).size).toBe(500);
    expect(mine.every((d) => d.credentialVersion === 1)).toBe(true);
    const items = await outboxItems();
    expect(items.length).toBe(all.length);
    report('password events', {
      resets: 500,
      events: mine.length,
      distinctEventIds: new Set(mine.map((d) => d.eventId)).size,
      eventsBefore: before,
      resetsCommittedMs: committedMs,
      lastEventMs: publishedMs,
    });
  }, 600_000);
});
