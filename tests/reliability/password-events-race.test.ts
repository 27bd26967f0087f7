import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { passwordChangedDetail, passwordChangedOutboxItem } from '../../lib/events/password-changed';
import { DEMO_USER, type LocalServer, ROUTES, startLocalServer } from '../../local/server';
import { send, tokenFromLink } from '../support/http';
import { report } from '../support/sizes';

/**
 * The 25-way race at npm start's defaults (bcrypt cost 12, default limits and floor, events on):
 * whatever each confirm answers, exactly one reset commits and exactly one event is published.
 */
let server: LocalServer;
beforeAll(async () => {
  const suffix = randomUUID().slice(0, 8);
  server = await startLocalServer({
    dynamoEndpoint: inject('dynamoEndpoint'),
    env: { TOKEN_TABLE_NAME: `tokens-${suffix}`, USERS_TABLE_NAME: `users-${suffix}` },
    seedDemoUser: true,
  });
});
afterAll(() => server?.stop());

describe('25 concurrent confirms of one token at the defaults', () => {
  it('publish exactly one PasswordChanged event', async () => {
    expect(server.config.bcryptCost).toBe(12);
    expect(server.config.passwordChangedEvents).toBe(true);
    const user = await server.accounts.login(DEMO_USER.email, DEMO_USER.password);
    await send(server.url, ROUTES.request, { email: DEMO_USER.email });
    await server.emailSettled();
    const token = tokenFromLink(server.outbox.outbox().findLast((m) => m.link)?.link);

    const answers = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        send(
          server.url,
          ROUTES.confirm,
          { token, newPassword: `racing passphrase number ${i}` },
          {
            signal: AbortSignal.timeout(60_000),
          },
        ),
      ),
    );
    // Until issue 10 lands, a confirm can answer 503 and still commit afterwards: wait for the
    // one commit before the marker, so the marker really comes after it in the stream.
    const committedBy = Date.now() + 60_000;
    while (Number((await server.accounts.get(user?.userId as string))?.credentialVersion ?? 0) < 1) {
      if (Date.now() > committedBy) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A marker written after the race: once it is published, the reader has read past the race.
    const marker = passwordChangedOutboxItem({
      userId: `marker-${randomUUID()}`,
      credentialVersion: 1,
      changedAt: Date.now(),
      method: 'link',
      requestId: 'marker',
    });
    await server.documentClient.send(
      new PutCommand({ TableName: server.config.tokenTableName, Item: marker }),
    );
    const bus = server.passwordEvents?.bus;
    const deadline = Date.now() + 60_000;
    const published = () => (bus?.events() ?? []).map((event) => passwordChangedDetail.parse(event.detail));
    while (!published().some((d) => d.userId === (marker.detail as { userId: string }).userId)) {
      if (Date.now() > deadline) throw new Error('the marker was not published');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const mine = published().filter((d) => d.userId === user?.userId);
    const stored = await server.accounts.get(user?.userId as string);
    expect(stored?.credentialVersion).toBe(1);
    expect(mine).toHaveLength(1);
    expect(mine[0]?.credentialVersion).toBe(1);
    const statuses: Record<string, number> = {};
    for (const answer of answers) statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
    expect(statuses['200'] ?? 0).toBeLessThanOrEqual(1);
    report('password events, 25-way race at cost 12', {
      events: mine.length,
      credentialVersion: Number(stored?.credentialVersion),
      ...Object.fromEntries(Object.entries(statuses).map(([status, count]) => [`status${status}`, count])),
    });
  });
});
