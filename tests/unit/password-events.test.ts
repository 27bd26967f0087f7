import { readFileSync } from 'node:fs';
import type { PutEventsRequestEntry, PutEventsResponse } from '@aws-sdk/client-eventbridge';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { passwordChangedEventJsonSchema } from '../../lib/events/json-schema';
import {
  OUTBOX_PREFIX,
  OUTBOX_STREAM_FILTER,
  OUTBOX_TTL_SECONDS,
  outboxPut,
  passwordChangedOutboxItem,
} from '../../lib/events/password-changed';
import {
  type OutboxPublisherDeps,
  PublishFailedError,
  publishOutboxBatch,
  publishOutboxRecord,
} from '../../lib/events/publish-password-changed';

const CHANGED_AT = Date.parse('2026-11-23T08:00:00.123Z');
const facts = {
  userId: 'user-1',
  credentialVersion: 3,
  changedAt: CHANGED_AT,
  method: 'link' as const,
  requestId: 'req-1',
};

function streamRecord(item: Record<string, unknown>, sequence: string, eventName = 'INSERT'): DynamoDBRecord {
  return {
    eventID: `e-${sequence}`,
    eventName: eventName as DynamoDBRecord['eventName'],
    eventSource: 'aws:dynamodb',
    dynamodb: {
      Keys: marshall({ pk: item.pk }) as never,
      NewImage: marshall(item, { removeUndefinedValues: true }) as never,
      SequenceNumber: sequence,
      StreamViewType: 'NEW_IMAGE',
    },
  };
}

function fakeBus(answers: Array<Partial<PutEventsResponse>> = []) {
  const sent: PutEventsRequestEntry[] = [];
  const logs: string[] = [];
  const deps: OutboxPublisherDeps = {
    eventBusName: 'bus',
    putEvents: async (entries) => {
      sent.push(...entries);
      return { FailedEntryCount: 0, Entries: [{ EventId: 'x' }], ...answers.shift() } as PutEventsResponse;
    },
    log: (event) => logs.push(event),
  };
  return { deps, sent, logs };
}

describe('the outbox item', () => {
  it('has its own key prefix, a TTL a week after the change, and only the event detail', () => {
    const item = passwordChangedOutboxItem(facts);
    const detail = item.detail as Record<string, unknown>;

    expect(item.pk).toBe(`${OUTBOX_PREFIX}${detail.eventId}`);
    expect(item.ttl).toBe(Math.ceil(CHANGED_AT / 1000) + OUTBOX_TTL_SECONDS);
    expect(Object.keys(item).sort()).toEqual(['detail', 'detailType', 'pk', 'ttl']);
    expect(detail).toEqual({
      eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      userId: 'user-1',
      credentialVersion: 3,
      changedAt: '2026-11-23T08:00:00.123Z',
      method: 'link',
      requestId: 'req-1',
    });
  });

  it('gets a new eventId for every change and is never written over an existing item', () => {
    const first = passwordChangedOutboxItem(facts);
    const second = passwordChangedOutboxItem(facts);

    expect(first.pk).not.toBe(second.pk);
    expect(outboxPut('tokens', first).Put).toMatchObject({
      TableName: 'tokens',
      ConditionExpression: 'attribute_not_exists(#pk)',
    });
  });

  it('refuses facts that would make an invalid event', () => {
    expect(() => passwordChangedOutboxItem({ ...facts, credentialVersion: 0 })).toThrow();
    expect(() => passwordChangedOutboxItem({ ...facts, userId: '' })).toThrow();
  });
});

describe('publishing one stream record', () => {
  it('puts a PasswordChanged entry on the bus with the detail as written and the change time', async () => {
    const item = passwordChangedOutboxItem(facts);
    const bus = fakeBus();

    await publishOutboxRecord(streamRecord(item, '100'), bus.deps);

    expect(bus.sent).toEqual([
      {
        EventBusName: 'bus',
        Source: 'password-reset',
        DetailType: 'PasswordChanged',
        Time: new Date(CHANGED_AT),
        Detail: JSON.stringify(item.detail),
      },
    ]);
    expect(bus.logs).toEqual(['password_changed_published']);
  });

  it('skips records that are not new outbox items: token items, and outbox removals by TTL', async () => {
    const bus = fakeBus();
    const item = passwordChangedOutboxItem(facts);

    await publishOutboxRecord(streamRecord({ pk: 'token#abc', userId: 'u' }, '1'), bus.deps);
    await publishOutboxRecord(streamRecord(item, '2', 'REMOVE'), bus.deps);
    await publishOutboxRecord(streamRecord(item, '3', 'MODIFY'), bus.deps);

    expect(bus.sent).toEqual([]);
  });

  it('fails on an entry EventBridge rejected inside a 200 answer, so the record is retried', async () => {
    const bus = fakeBus([{ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] }]);

    await expect(
      publishOutboxRecord(streamRecord(passwordChangedOutboxItem(facts), '1'), bus.deps),
    ).rejects.toBeInstanceOf(PublishFailedError);
    expect(bus.logs).toEqual(['password_changed_publish_failed']);
  });

  it('fails on a malformed outbox item instead of publishing it', async () => {
    const item = { ...passwordChangedOutboxItem(facts), detail: { userId: 'u', email: 'a@example.com' } };
    const bus = fakeBus();

    await expect(publishOutboxRecord(streamRecord(item, '1'), bus.deps)).rejects.toThrow();
    expect(bus.sent).toEqual([]);
  });
});

describe('publishing a batch', () => {
  it('reports the failed record by sequence number and publishes the others', async () => {
    const records = ['10', '20', '30'].map((seq) => streamRecord(passwordChangedOutboxItem(facts), seq));
    const bus = fakeBus([{}, { FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException' }] }, {}]);
    const event: DynamoDBStreamEvent = { Records: records };

    const response = await publishOutboxBatch(event, bus.deps);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '20' }]);
    expect(bus.sent).toHaveLength(3);
  });

  it('throws when every record failed, so the whole batch is retried', async () => {
    const bus = fakeBus([{ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] }]);
    const event: DynamoDBStreamEvent = { Records: [streamRecord(passwordChangedOutboxItem(facts), '1')] };

    await expect(publishOutboxBatch(event, bus.deps)).rejects.toThrow();
  });
});

describe('the event contract', () => {
  it('keeps schemas/password-changed.schema.json in step with the schema the publisher validates', () => {
    const file = JSON.parse(readFileSync('schemas/password-changed.schema.json', 'utf8'));

    expect(file).toEqual(passwordChangedEventJsonSchema());
  });

  it('filters the event source mapping to new outbox items, as the publisher does in code', () => {
    expect(OUTBOX_STREAM_FILTER).toEqual({
      eventName: ['INSERT'],
      dynamodb: { Keys: { pk: { S: [{ prefix: 'outbox#' }] } } },
    });
  });
});
