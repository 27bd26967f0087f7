import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mockEmailProvider } from '../../lib/email/mock-provider';
import { EmailDeliveryError } from '../../lib/errors';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../local/dynamodb-local';
import { freePort } from '../../local/free-port';
import { type LocalServer, startLocalServer } from '../../local/server';
import { testEnv } from '../support/deps';
import { ROUTES, send, stableHeaders, tokenFromLink } from '../support/http';
import { captureOutput } from '../support/log-capture';
import { report } from '../support/sizes';

/**
 * Faults: DynamoDB Local dies mid-run and comes back (its data on disk, same port), and the
 * email provider throws. The SSM outage and recovery are in tests/integration/http-api.test.ts.
 */
let dynamo: DynamoDbLocal;
let server: LocalServer;
let dataDir: string;
let port: number;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ddb-faults-'));
  port = await freePort();
  dynamo = await startDynamoDbLocal({ port, path: dataDir });
  server = await startLocalServer({
    dynamoEndpoint: dynamo.endpoint,
    env: testEnv({ REQUEST_RESPONSE_FLOOR_MS: '20' }),
  });
});
afterAll(async () => {
  await server?.stop();
  await dynamo?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const request = (email: string) => send(server.url, ROUTES.request, { email });
const confirm = (token: string, newPassword: string) =>
  send(server.url, ROUTES.confirm, { token, newPassword });

describe('DynamoDB stops mid-run', () => {
  it('answers a generic 503, leaves no half-done reset, and recovers without a restart of the server', async () => {
    const users = Array.from({ length: 30 }, (_, i) => ({
      email: `fault-${i}@example.com`,
      password: `new fault passphrase ${i}`,
    }));
    for (const user of users) await server.accounts.create(user.email, 'original fault passphrase', 4);
    const tokens: string[] = [];
    for (const user of users) {
      await request(user.email);
      await server.emailSettled();
      tokens.push(tokenFromLink(server.outbox.outbox().at(-1)?.link));
    }

    // Start the confirms a few milliseconds apart; kill DynamoDB Local the moment the first one
    // completes, so that some are done, some are mid-transaction and some have not started.
    let firstDone: () => void = () => undefined;
    const oneCompleted = new Promise<void>((resolve) => {
      firstDone = resolve;
    });
    const inFlight = users.map(async (user, i) => {
      await new Promise((resolve) => setTimeout(resolve, i * 5));
      const response = await confirm(tokens[i] as string, user.password);
      if (response.status === 200) firstDone();
      return response;
    });
    // On a loaded machine every confirm may finish before the kill; the invariants still hold.
    await Promise.race([oneCompleted, Promise.allSettled(inFlight)]);
    process.kill(dynamo.pid, 'SIGKILL');
    await dynamo.stop();
    const results = await Promise.all(inFlight);

    const down = {
      known: await request(users[0]?.email ?? ''),
      unknown: await request('nobody-at-all@example.com'),
    };
    const downConfirm = await confirm(tokens[0] as string, 'whatever passphrase here');
    for (const response of [down.known, down.unknown, downConfirm]) {
      expect(response.status).toBe(503);
      expect(response.json()).toMatchObject({ code: 'service_unavailable', status: 503 });
      expect(response.text).not.toMatch(/ECONNREFUSED|dynamo|stack/i);
    }
    expect(down.unknown.text).toBe(down.known.text);
    expect(stableHeaders(down.unknown.headers)).toEqual(stableHeaders(down.known.headers));

    dynamo = await startDynamoDbLocal({ port, path: dataDir });

    // Every reset is all or nothing: token consumed exactly when the password changed.
    let completed = 0;
    let halfDone = 0;
    for (const [i, user] of users.entries()) {
      const selector = (tokens[i] as string).split('.')[0];
      const tokenItem = await server.documentClient.send(
        new GetCommand({
          TableName: server.config.tokenTableName,
          Key: { pk: `token#${selector}` },
          ConsistentRead: true,
        }),
      );
      const changed = (await server.accounts.login(user.email, user.password)) !== null;
      const unchanged = (await server.accounts.login(user.email, 'original fault passphrase')) !== null;
      const consumed = tokenItem.Item === undefined;
      if (changed === unchanged || consumed !== changed) halfDone++;
      if (results[i]?.status === 200) expect(changed).toBe(true);
      if (changed) completed++;
    }
    expect(halfDone).toBe(0);
    expect(results.every((r) => [200, 503].includes(r.status))).toBe(true);

    // The same server process serves again, with no manual step.
    const again = await request(users[1]?.email ?? '');
    await server.emailSettled();
    const retry = await confirm(
      tokenFromLink(
        server.outbox.outbox().findLast((m) => m.template === 'password_reset' && m.to === users[1]?.email)
          ?.link,
      ),
      'after recovery passphrase',
    );
    expect(again.status).toBe(200);
    expect(retry.status).toBe(200);

    report('dynamodb outage', {
      confirmsInFlight: results.length,
      answered200: results.filter((r) => r.status === 200).length,
      answered503: results.filter((r) => r.status === 503).length,
      resetsCompleted: completed,
      halfDone,
    });
  }, 180_000);
});

describe('the email provider fails', () => {
  it('still answers the same 200 to a reset request; the sender retries the transient failure', async () => {
    await server.accounts.create('provider@example.com', 'provider original passphrase', 4);
    await server.emailSettled();
    const failing = vi
      .spyOn(mockEmailProvider, 'deliver')
      .mockRejectedValueOnce(new EmailDeliveryError(true, 'smtp_451'));
    const output = captureOutput();
    let known: Awaited<ReturnType<typeof request>>;
    let unknown: Awaited<ReturnType<typeof request>>;
    let attempts = 0;
    try {
      known = await request('provider@example.com');
      unknown = await request('no-provider@example.com');
      await server.emailSettled();
      attempts = failing.mock.calls.length;
    } finally {
      output.restore();
      failing.mockRestore();
    }

    expect(known.status).toBe(200);
    expect(unknown.text).toBe(known.text);
    expect(stableHeaders(unknown.headers)).toEqual(stableHeaders(known.headers));
    expect(attempts).toBe(2);
    expect(output.text()).toContain('"message":"email_retry_scheduled"');
    expect(server.outbox.outbox().at(-1)?.to).toBe('provider@example.com');
  });

  it('keeps a completed reset when the password-changed notice fails', async () => {
    await server.accounts.create('notice@example.com', 'notice original passphrase', 4);
    await request('notice@example.com');
    await server.emailSettled();
    const token = tokenFromLink(server.outbox.outbox().at(-1)?.link);
    const failing = vi
      .spyOn(mockEmailProvider, 'deliver')
      .mockRejectedValue(new EmailDeliveryError(false, 'smtp_550'));
    const output = captureOutput();
    let response: Awaited<ReturnType<typeof confirm>>;
    let attempts = 0;
    try {
      response = await confirm(token, 'a fresh passphrase here');
      await server.emailSettled();
      attempts = failing.mock.calls.length;
    } finally {
      output.restore();
      failing.mockRestore();
    }

    expect(response.status).toBe(200);
    expect(await server.accounts.login('notice@example.com', 'a fresh passphrase here')).not.toBeNull();
    expect(attempts).toBe(1);
    expect(server.deadLetters().at(-1)).toMatchObject({ template: 'password_changed', reason: 'permanent' });
    expect(output.text()).toContain('"message":"email_dead_lettered"');
  });
});
