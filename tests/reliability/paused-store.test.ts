import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { startDynamoDbLocal } from '../../local/dynamodb-local';
import { ROUTES, startLocalServer } from '../../local/server';
import { freshNetwork, postFrom } from '../support/loopback-clients';
import { report, STRESS } from '../support/sizes';

/**
 * A burst of requests while DynamoDB Local is stopped (SIGSTOP) for 3 s, on a server at npm
 * start's defaults with a DynamoDB Local of its own (stopping the shared one would stall every
 * other suite; one local server per file, as its handlers are loaded once per process).
 */
vi.setConfig({ testTimeout: STRESS ? 600_000 : 180_000 });
const PER_GROUP = STRESS ? 60 : 10;

describe('request with DynamoDB Local paused', () => {
  it('mails every accepted known-account request of a burst exactly once when the store stops for 3 s', async () => {
    // A DynamoDB Local of its own: SIGSTOP on the shared one would stall every other suite.
    const dynamo = await startDynamoDbLocal();
    const server = await startLocalServer({ dynamoEndpoint: dynamo.endpoint });
    try {
      const emails = Array.from(
        { length: PER_GROUP * 2 },
        (_, i) => `paused-${i}-${randomUUID().slice(0, 6)}@example.com`,
      );
      for (const email of emails) await server.accounts.create(email, 'a seeded passphrase for this', 4);

      const burst = emails.map(async (email, i) => {
        // Half the burst before the pause, half while DynamoDB is stopped.
        if (i >= PER_GROUP) await new Promise((resolve) => setTimeout(resolve, 200));
        return { email, answer: await postFrom(server.url, freshNetwork(), ROUTES.request, { email }) };
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      process.kill(dynamo.pid, 'SIGSTOP');
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      process.kill(dynamo.pid, 'SIGCONT');
      const answers = await Promise.all(burst);
      await server.emailSettled();

      const accepted = answers.filter((a) => a.answer.status === 200).map((a) => a.email);
      const refused = answers.filter((a) => a.answer.status !== 200);
      const mails = (email: string) => server.outbox.outbox().filter((m) => m.to === email).length;
      // A request whose own per-IP write could not finish is a 503 for any address; no other answer.
      expect(refused.every((a) => a.answer.status === 503)).toBe(true);
      expect(accepted.length).toBeGreaterThan(0);
      expect(accepted.map(mails)).toEqual(Array(accepted.length).fill(1));
      expect(server.jobDeadLetters()).toEqual([]);
      report('request burst, DynamoDB Local stopped 3 s', {
        requests: answers.length,
        accepted: accepted.length,
        refused503: refused.length,
        mailedOnce: accepted.map(mails).filter((n) => n === 1).length,
      });
    } finally {
      await server.stop();
      await dynamo.stop();
    }
  });
});
