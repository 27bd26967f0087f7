import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashVerifier } from '../../lib/tokens/token';
import type { LocalServer } from '../../local/server';
import { ROUTES, send, startTestServer, tokenFromLink } from '../support/http';
import { captureOutput } from '../support/log-capture';
import { report } from '../support/sizes';

/**
 * Secrets: a full flow (request, weak password, confirm, replay, dry run, login) with every log
 * line captured. No token, token hash, password or password hash may appear in the logs, and
 * no item in DynamoDB may hold a plaintext token.
 */
let server: LocalServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

describe('secrets', () => {
  it('never reach the logs or the table in plaintext', async () => {
    const email = 'Secret.Keeper@Example.com';
    const oldPassword = 'the old secret phrase';
    const newPassword = 'the new secret phrase';
    await server.accounts.create(email, oldPassword);

    const output = captureOutput();
    let token = '';
    try {
      await send(server.url, ROUTES.request, { email });
      await server.emailSettled();
      token = tokenFromLink(server.outbox.outbox().at(-1)?.link);
      await send(server.url, ROUTES.confirm, { token, newPassword: 'password' });
      await send(server.url, ROUTES.confirm, { token, newPassword });
      await send(server.url, ROUTES.confirm, { token, newPassword: 'a replayed secret phrase' });
      await send(server.url, '/__local/login', { email, password: newPassword });

      // A dry run renders the email into the log: the link in it must be redacted.
      server.setKillSwitch({ enabled: true, dryRun: true });
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + (server.config.killSwitchCacheSeconds + 6) * 1000);
      await server.emailSettled();
      const before = server.outbox.outbox().length;
      await send(server.url, ROUTES.request, { email });
      await server.emailSettled();
      expect(server.outbox.outbox().length).toBe(before);
    } finally {
      output.restore();
      vi.useRealTimers();
      server.setKillSwitch({ enabled: true, dryRun: false });
    }

    const logs = output.text();
    const user = await server.accounts.login(email, newPassword);
    const record = await server.accounts.get(user?.userId ?? '');
    const [selector, verifier] = token.split('.') as [string, string];
    const secrets = {
      token,
      verifier,
      verifierHash: hashVerifier(verifier),
      oldPassword,
      newPassword,
      passwordHash: String(record?.passwordHash),
      rawEmail: email,
      normalizedEmail: email.toLowerCase(),
    };
    expect(logs).toContain('reset_completed');
    expect(logs).toContain('email_dry_run');
    expect(logs).toContain('[REDACTED]');
    expect(logs).not.toMatch(/token=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}/);
    for (const [name, secret] of Object.entries(secrets)) {
      expect(logs.includes(secret), `${name} leaked into the logs`).toBe(false);
    }

    const scan = await server.documentClient.send(
      new ScanCommand({ TableName: server.config.tokenTableName }),
    );
    const items = JSON.stringify(scan.Items);
    expect(items).not.toContain(verifier);
    expect(items).not.toContain(token);
    expect(selector.length).toBe(22);
    report('secrets', {
      logLines: output.lines().length,
      secretsChecked: Object.keys(secrets).length,
      tokenItemsScanned: scan.Items?.length ?? 0,
    });
  });
});
