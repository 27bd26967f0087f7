import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { PutEventsRequestEntry, PutEventsResponse } from '@aws-sdk/client-eventbridge';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { TOKEN_TABLE } from '../table-schema';
import {
  OUTBOX_PREFIX,
  PASSWORD_CHANGED,
  type PasswordChangedDetail,
  passwordChangedDetail,
} from './password-changed';

/**
 * Publishes PasswordChanged events from the token table's stream to EventBridge. The same code
 * runs in Lambda (fed by the event source mapping) and in `npm start` (fed by the local stream
 * reader), so the filter, the validation and the failure reporting are tested as deployed.
 */
export interface OutboxPublisherDeps {
  putEvents(entries: PutEventsRequestEntry[]): Promise<PutEventsResponse>;
  eventBusName: string;
  log(event: 'password_changed_published' | 'password_changed_publish_failed', fields: object): void;
}

/** An EventBridge entry can fail on its own inside a 200 answer; that is a failure too. */
export class PublishFailedError extends Error {
  override name = 'PublishFailedError';
}

export function isOutboxInsert(record: DynamoDBRecord): boolean {
  const key = record.dynamodb?.Keys?.[TOKEN_TABLE.partitionKey]?.S;
  return record.eventName === 'INSERT' && typeof key === 'string' && key.startsWith(OUTBOX_PREFIX);
}

/** The outbox item's detail, validated: a malformed item is a bug and must fail loudly, not publish. */
export function outboxDetail(record: DynamoDBRecord): PasswordChangedDetail {
  const image = record.dynamodb?.NewImage;
  if (!image) throw new Error('Outbox record has no NewImage: the stream must use NEW_IMAGE');
  const item = unmarshall(image as Record<string, AttributeValue>);
  return passwordChangedDetail.parse(item.detail);
}

export function toPutEventsEntry(detail: PasswordChangedDetail, eventBusName: string): PutEventsRequestEntry {
  return {
    EventBusName: eventBusName,
    Source: PASSWORD_CHANGED.source,
    DetailType: PASSWORD_CHANGED.detailType,
    // The envelope's time is when the password changed, not when the publisher got to it.
    Time: new Date(detail.changedAt),
    Detail: JSON.stringify(detail),
  };
}

/** Publishes one stream record; records that are not new outbox items are skipped. */
export async function publishOutboxRecord(record: DynamoDBRecord, deps: OutboxPublisherDeps): Promise<void> {
  if (!isOutboxInsert(record)) return;
  const detail = outboxDetail(record);
  const response = await deps.putEvents([toPutEventsEntry(detail, deps.eventBusName)]);
  const failed = (response.FailedEntryCount ?? 0) > 0 || response.Entries?.[0]?.ErrorCode !== undefined;
  if (failed) {
    const code = response.Entries?.[0]?.ErrorCode ?? 'unknown';
    deps.log('password_changed_publish_failed', { eventId: detail.eventId, errorCode: code });
    throw new PublishFailedError(`PutEvents rejected event ${detail.eventId}: ${code}`);
  }
  deps.log('password_changed_published', {
    eventId: detail.eventId,
    requestId: detail.requestId,
    sequenceNumber: record.dynamodb?.SequenceNumber,
  });
}

/**
 * One batch from the stream, with partial batch failures (Powertools): a failed record is
 * reported by sequence number, so the source retries from it and never skips it. Records are
 * published in order, one at a time, so a failure never overtakes a later success in a way
 * that matters: everything from the first failure on is retried (at least once, never lost).
 */
export async function publishOutboxBatch(
  event: DynamoDBStreamEvent,
  deps: OutboxPublisherDeps,
  context?: Context,
): Promise<DynamoDBBatchResponse> {
  const processor = new BatchProcessor(EventType.DynamoDBStreams);
  return processPartialResponse(
    event,
    (record: DynamoDBRecord) => publishOutboxRecord(record, deps),
    processor,
    {
      ...(context ? { context } : {}),
      processInParallel: false,
    },
  );
}
