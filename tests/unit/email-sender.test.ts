import { randomUUID } from 'node:crypto';
import {
  IdempotencyItemAlreadyExistsError,
  IdempotencyItemNotFoundError,
} from '@aws-lambda-powertools/idempotency';
import { BasePersistenceLayer, type IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createEmailSender, type DeadLetter, type SenderEvent } from '../../lib/email/email-sender';
import type { KillSwitchState } from '../../lib/email/kill-switch';
import type { QueuedEmail } from '../../lib/email/queued-email';
import type { OutgoingEmail } from '../../lib/email/send-email';
import { EmailDeliveryError } from '../../lib/errors';
import { createPseudonymizer } from '../../lib/pseudonym';
import { lambdaContext } from '../../local/api-gateway';
import { manualClock } from '../support/clock';
import { sqsRecord } from '../support/sqs-records';

/** Powertools' persistence contract, in memory: the DynamoDB one is exercised by the integration suites. */
class MemoryPersistence extends BasePersistenceLayer {
  readonly records = new Map<string, IdempotencyRecord>();
  protected async _putRecord(record: IdempotencyRecord): Promise<void> {
    const existing = this.records.get(record.idempotencyKey);
    if (existing && !existing.isExpired()) throw new IdempotencyItemAlreadyExistsError('exists', existing);
    this.records.set(record.idempotencyKey, record);
  }
  protected async _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    const record = this.records.get(idempotencyKey);
    if (!record) throw new IdempotencyItemNotFoundError();
    return record;
  }
  protected async _updateRecord(record: IdempotencyRecord): Promise<void> {
    this.records.set(record.idempotencyKey, record);
  }
  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    this.records.delete(record.idempotencyKey);
  }
}

function setup(options: { maxAttempts?: number; fail?: (message: OutgoingEmail) => Error | undefined } = {}) {
  const sent: OutgoingEmail[] = [];
  const deadLetters: DeadLetter[] = [];
  const retries: Array<{ receiptHandle: string; seconds: number }> = [];
  const events: Array<{ event: SenderEvent; fields: Record<string, unknown> }> = [];
  let state: KillSwitchState = 'deliver';
  const clock = manualClock();
  const send = createEmailSender({
    provider: {
      deliver: async (message) => {
        const error = options.fail?.(message);
        if (error) throw error;
        sent.push(message);
      },
    },
    killSwitch: { read: async () => state },
    persistenceStore: new MemoryPersistence(),
    queue: {
      retryLater: async (receiptHandle, seconds) => {
        retries.push({ receiptHandle, seconds });
      },
      deadLetter: async (record) => {
        deadLetters.push(record);
      },
    },
    pseudonymize: createPseudonymizer('unit-test-salt'),
    clock,
    random: () => 0.5,
    report: (event, fields) => events.push({ event, fields }),
    config: { maxAttempts: options.maxAttempts ?? 8, retryBaseSeconds: 2, retryMaxSeconds: 60 },
  });
  return {
    sent,
    deadLetters,
    retries,
    events,
    clock,
    setSwitch: (next: KillSwitchState) => {
      state = next;
    },
    send: (...records: SQSRecord[]) =>
      send({ Records: records } as SQSEvent, lambdaContext('email-sender', 30_000)),
  };
}

const message = (overrides: Partial<QueuedEmail> = {}): QueuedEmail => ({
  id: randomUUID(),
  to: 'jane@example.com',
  template: 'password_reset',
  subject: 'Reset your password',
  text: 'open https://market.example.com/reset-password#token=abc.def',
  html: '<a href="https://market.example.com/reset-password#token=abc.def">Reset</a>',
  expiresAt: Date.now() + 15 * 60_000,
  ...overrides,
});

const record = (body: QueuedEmail | string, attempt = 1): SQSRecord =>
  sqsRecord(body, attempt, 'password-reset-email');

describe('the email sender', () => {
  it('delivers a message and reports no failure', async () => {
    const sender = setup();

    const response = await sender.send(record(message()));

    expect(response.batchItemFailures).toEqual([]);
    expect(sender.sent.map((m) => m.to)).toEqual(['jane@example.com']);
  });

  it('sends a message delivered twice only once', async () => {
    const sender = setup();
    const body = message();

    await sender.send(record(body));
    await sender.send(record(body, 2));

    expect(sender.sent).toHaveLength(1);
    expect(sender.events.at(-1)).toMatchObject({ event: 'email_dropped', fields: { reason: 'duplicate' } });
  });

  it('hides a transient failure for a backoff and reports only that record as failed', async () => {
    const sender = setup({
      fail: (m) => (m.to === 'slow@example.com' ? new EmailDeliveryError(true, 'smtp_451') : undefined),
    });
    const failing = record(message({ to: 'slow@example.com' }), 3);
    const fine = record(message());

    const response = await sender.send(failing, fine);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: failing.messageId }]);
    // attempt 3: 2 * 2^2 = 8 s ceiling, equal jitter at random 0.5 gives 6 s
    expect(sender.retries).toEqual([{ receiptHandle: failing.receiptHandle, seconds: 6 }]);
    expect(sender.sent.map((m) => m.to)).toEqual(['jane@example.com']);
    expect(sender.deadLetters).toEqual([]);
  });

  it('retries a message after a transient failure and then sends it', async () => {
    let failures = 1;
    const sender = setup({
      fail: () => (failures-- > 0 ? new EmailDeliveryError(true, 'TooManyRequestsException') : undefined),
    });
    const body = message();

    const first = await sender.send(record(body, 1));
    const second = await sender.send(record(body, 2));

    expect(first.batchItemFailures).toHaveLength(1);
    expect(second.batchItemFailures).toEqual([]);
    expect(sender.sent).toHaveLength(1);
  });

  it('dead-letters a permanent failure at once, without the address, body or link', async () => {
    const sender = setup({ fail: () => new EmailDeliveryError(false, 'MessageRejected') });
    const body = message();

    const response = await sender.send(record(body));

    expect(response.batchItemFailures).toEqual([]);
    expect(sender.retries).toEqual([]);
    expect(sender.deadLetters).toEqual([
      expect.objectContaining({ id: body.id, reason: 'permanent', code: 'MessageRejected', attempts: 1 }),
    ]);
    expect(JSON.stringify(sender.deadLetters)).not.toMatch(/jane@example\.com|token=|Reset your password/);
  });

  it('dead-letters a transient failure on its last attempt instead of retrying it', async () => {
    const sender = setup({ maxAttempts: 4, fail: () => new EmailDeliveryError(true, 'smtp_421') });

    const response = await sender.send(record(message(), 4));

    expect(response.batchItemFailures).toEqual([]);
    expect(sender.deadLetters).toEqual([
      expect.objectContaining({ reason: 'retries_exhausted', attempts: 4 }),
    ]);
  });

  it('dead-letters a malformed message without calling the provider', async () => {
    const sender = setup();

    await sender.send(record('{"to":"x"}'), record('not json'));

    expect(sender.sent).toEqual([]);
    expect(sender.deadLetters.map((d) => d.reason)).toEqual(['malformed', 'malformed']);
  });

  it('drops messages while mail is off or in dry run, and retries while the switch is unreadable', async () => {
    const sender = setup();

    sender.setSwitch('disabled');
    await sender.send(record(message()));
    sender.setSwitch('dry_run');
    await sender.send(record(message()));
    sender.setSwitch('unavailable');
    const unreadable = await sender.send(record(message()));

    expect(sender.sent).toEqual([]);
    expect(sender.events.filter((e) => e.event === 'email_dropped').map((e) => e.fields.reason)).toEqual([
      'kill_switch',
      'dry_run',
    ]);
    expect(unreadable.batchItemFailures).toHaveLength(1);
  });

  it('drops a reset whose link has expired', async () => {
    const sender = setup();

    await sender.send(record(message({ expiresAt: sender.clock.now() - 1 })));

    expect(sender.sent).toEqual([]);
    expect(sender.events.at(-1)).toMatchObject({ event: 'email_dropped', fields: { reason: 'expired' } });
  });
});
