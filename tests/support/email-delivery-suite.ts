import { randomUUID } from 'node:crypto';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueuedEmail } from '../../lib/email/queued-email';
import { lambdaContext } from '../../local/api-gateway';
import { EMAIL_QUEUES, type LocalServer } from '../../local/server';
import { PERMANENT_FAILURE_ADDRESS } from '../../local/smtp-sink';
import { ROUTES, send, stableHeaders, startTestServer, tokenFromLink } from './http';
import { captureOutput } from './log-capture';
import { report } from './sizes';

/**
 * The email delivery suite, run once per real provider against its local emulator (the SES
 * v2 emulator, or an SMTP server): no provider is mocked. Requests go through the HTTP
 * handlers, mail through the SQS stand-in, the event source mapping and the sender function.
 */
export function emailDeliverySuite(provider: 'ses' | 'smtp', options: { resets: number }) {
  let server: LocalServer;
  let sqs: SQSClient;

  beforeAll(async () => {
    server = await startTestServer({
      EMAIL_PROVIDER: provider,
      // Short backoff so the retry test takes seconds; the defaults are 2 s doubling to 60 s.
      EMAIL_RETRY_BASE_SECONDS: '1',
      EMAIL_RETRY_MAX_SECONDS: '4',
      EMAIL_MAX_ATTEMPTS: '10',
    });
    sqs = new SQSClient({});
  }, 60_000);
  afterAll(async () => {
    sqs?.destroy();
    await server?.stop();
  });

  const request = (email: string) => send(server.url, ROUTES.request, { email });
  const mailTo = (to: string) => server.outbox.outbox().filter((m) => m.to === to);
  /** Puts a message on the queue as the request function would, bypassing the request path. */
  const enqueue = async (message: Partial<QueuedEmail> & { to: string }, delaySeconds = 0) => {
    const body: QueuedEmail = {
      id: randomUUID(),
      template: 'password_changed',
      subject: 'Your password was changed',
      text: 'Your password was changed.',
      html: '<p>Your password was changed.</p>',
      expiresAt: Date.now() + 15 * 60_000,
      ...message,
    };
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: server.sqs.queueUrl(EMAIL_QUEUES.queue),
        MessageBody: JSON.stringify(body),
        DelaySeconds: delaySeconds,
      }),
    );
    return body;
  };

  describe(`delivery through ${provider}`, () => {
    it('delivers the reset email and the changed notice with the right recipient, subject, text and HTML; the link works', async () => {
      const email = `flow-${provider}@example.com`;
      await server.accounts.create(email, 'the original passphrase', 4);

      const response = await request(email);
      await server.emailSettled();
      const [reset] = mailTo(email);
      const token = tokenFromLink(reset?.link);
      const confirmed = await send(server.url, ROUTES.confirm, {
        token,
        newPassword: 'a brand new passphrase',
      });
      await server.emailSettled();

      expect(response.status).toBe(200);
      expect(reset).toMatchObject({
        provider,
        to: email,
        template: 'password_reset',
        subject: 'Reset your password',
      });
      expect(reset?.text).toContain(reset?.link);
      expect(reset?.html).toContain(`<a href="${reset?.link}">`);
      expect(confirmed.status).toBe(200);
      expect(await server.accounts.login(email, 'a brand new passphrase')).not.toBeNull();
      const notice = mailTo(email)[1];
      expect(notice).toMatchObject({ provider, to: email, template: 'password_changed' });
      expect(notice?.subject).toMatch(/password/i);
      expect(notice?.text).not.toContain('token=');
      expect(notice?.html).toContain('<html>');
    });

    it(`retries transient failures: at a fail rate of 0.3, ${options.resets} resets deliver ${options.resets} emails, each exactly once`, async () => {
      const emails = Array.from({ length: options.resets }, (_, i) => `retry-${provider}-${i}@example.com`);
      for (const email of emails) await server.accounts.create(email, 'the original passphrase', 4);
      const output = captureOutput();
      server.emailFaults.failRate = 0.3;
      try {
        for (let i = 0; i < emails.length; i += 10) {
          const batch = await Promise.all(emails.slice(i, i + 10).map((email) => request(email)));
          expect(batch.every((r) => r.status === 200)).toBe(true);
        }
        await server.emailSettled(180_000);
      } finally {
        server.emailFaults.failRate = 0;
        output.restore();
      }

      const perRecipient = emails.map((email) => mailTo(email).length);
      const retries = output
        .lines()
        .filter((line) => line.includes('"message":"email_retry_scheduled"')).length;
      expect(perRecipient.every((count) => count === 1)).toBe(true);
      expect(retries).toBeGreaterThan(0);
      expect(server.deadLetters()).toHaveLength(0);
      report(`email ${provider} retries`, {
        resets: emails.length,
        delivered: perRecipient.reduce((a, b) => a + b, 0),
        retries,
      });
    }, 300_000);

    it('sends a permanent failure to the dead-letter queue at once, without retries and without the message', async () => {
      const output = captureOutput();
      let message: QueuedEmail;
      try {
        message = await enqueue({
          to: provider === 'ses' ? 'not an address@@example' : PERMANENT_FAILURE_ADDRESS,
          template: 'password_reset',
          text: 'open https://market.example.com/reset-password#token=secret-link-token',
        });
        await server.emailSettled();
      } finally {
        output.restore();
      }

      const letter = server.deadLetters().find((entry) => (entry as { id?: string }).id === message.id);
      expect(letter).toMatchObject({ reason: 'permanent', attempts: 1, template: 'password_reset' });
      expect(JSON.stringify(letter)).not.toContain('secret-link-token');
      expect(JSON.stringify(letter)).not.toContain(message.to);
      expect(output.text()).not.toContain(`"email_retry_scheduled","id":"${message.id}"`);
      expect(output.lines().filter((l) => l.includes(message.id) && l.includes('retry'))).toHaveLength(0);
      expect(mailTo(message.to)).toHaveLength(0);
    });

    it('sends a message the queue delivers twice only once', async () => {
      const to = `twice-${provider}@example.com`;
      const first = await enqueue({ to });
      await enqueue({ ...first }); // the same message id, as an at-least-once queue may redeliver it
      const output = captureOutput();
      try {
        await server.emailSettled();
      } finally {
        output.restore();
      }

      expect(mailTo(to)).toHaveLength(1);
      expect(output.text()).toContain('"reason":"duplicate"');
      // The idempotency records sit under their own key prefix, expire by the table's TTL, and hold no message.
      const { Items = [] } = await server.documentClient.send(
        new ScanCommand({ TableName: server.config.tokenTableName }),
      );
      const records = Items.filter((item) => String(item.pk).startsWith('email-sent#'));
      expect(records.length).toBeGreaterThan(0);
      for (const record of records) {
        expect(record.ttl).toBeGreaterThan(Date.now() / 1000);
        expect(JSON.stringify(record)).not.toContain('@example.com');
      }
    });

    it('does not send a message queued before the kill-switch was turned off', async () => {
      const to = `switched-off-${provider}@example.com`;
      await enqueue({ to }, 2);
      server.setKillSwitch({ enabled: false, dryRun: false });
      const output = captureOutput();
      try {
        await server.emailSettled();
      } finally {
        output.restore();
        server.setKillSwitch({ enabled: true, dryRun: false });
      }

      expect(mailTo(to)).toHaveLength(0);
      expect(output.text()).toContain('"message":"email_dropped"');
      expect(output.text()).toContain('"reason":"kill_switch"');
    });

    it('drops a queued reset whose link has expired instead of sending a dead link', async () => {
      const to = `expired-${provider}@example.com`;
      const output = captureOutput();
      try {
        await enqueue({ to, template: 'password_reset', expiresAt: Date.now() - 1 });
        await server.emailSettled();
      } finally {
        output.restore();
      }

      expect(mailTo(to)).toHaveLength(0);
      expect(output.text()).toContain('"reason":"expired"');
    });

    it('sends nothing to an address that bounced, with the same 200 as any other address', async () => {
      const email = `bounced-${provider}@example.com`;
      await server.accounts.create(email, 'the original passphrase', 4);
      const { handler } = await import('../../functions/email-events');
      await handler(
        {
          version: '0',
          id: randomUUID(),
          'detail-type': 'Email Bounced',
          source: 'aws.ses',
          account: '000000000000',
          time: new Date().toISOString(),
          region: 'us-east-1',
          resources: [],
          detail: {
            eventType: 'Bounce',
            bounce: { bounceType: 'Permanent', bouncedRecipients: [{ emailAddress: email.toUpperCase() }] },
            mail: { destination: [email] },
          },
        },
        lambdaContext('password-reset-email-events'),
      );

      const output = captureOutput();
      let suppressed: Awaited<ReturnType<typeof request>>;
      let unknown: Awaited<ReturnType<typeof request>>;
      try {
        suppressed = await request(email);
        unknown = await request(`nobody-${provider}@example.com`);
        await server.emailSettled();
      } finally {
        output.restore();
      }

      expect(suppressed.status).toBe(200);
      expect(suppressed.text).toBe(unknown.text);
      expect(stableHeaders(suppressed.headers)).toEqual(stableHeaders(unknown.headers));
      expect(mailTo(email)).toHaveLength(0);
      expect(output.text()).toContain('"reason":"suppressed_address"');
      expect(output.text()).not.toContain(email);
    });
  });
}
