import { randomUUID } from 'node:crypto';
import * as z from 'zod/mini';
import '../zod-messages';
import { TOKEN_TABLE } from '../table-schema';

/**
 * The PasswordChanged event and its transactional outbox item. The outbox item is written in the
 * same TransactWriteItems that consumes the token and changes the password, so the event exists
 * if and only if the reset committed; the table's stream then carries it to the bus.
 */
export const PASSWORD_CHANGED = {
  source: 'password-reset',
  detailType: 'PasswordChanged',
} as const;

/** Outbox items are `outbox#<eventId>` in the token table; nothing else uses the prefix. */
export const OUTBOX_PREFIX = 'outbox#';

/**
 * How long an outbox item stays in the table. Publishing reads the stream's NEW_IMAGE, not the
 * item, so this only bounds how long an operator can republish from the table (the stream itself
 * keeps records for 24 hours).
 */
export const OUTBOX_TTL_SECONDS = 7 * 24 * 3600;

/** The event's `detail`. No email, token or hash: consumers key on userId and dedupe on eventId. */
export const passwordChangedDetail = z
  .strictObject({
    eventId: z
      .uuid()
      .check(z.describe('Unique per password change; consumers dedupe on it (delivery is at least once)')),
    userId: z
      .string()
      .check(z.minLength(1), z.maxLength(256), z.describe('The users-table key of the account')),
    credentialVersion: z
      .int()
      .check(
        z.gte(1),
        z.describe('The credentialVersion the user has after this change; anything older is stale'),
      ),
    changedAt: z.iso
      .datetime()
      .check(z.describe('When the password changed (ISO 8601, UTC): passwordChangedAt')),
    method: z
      .enum(['link', 'code'])
      .check(z.describe('How the reset was proven: an emailed link or a one-time code')),
    requestId: z
      .string()
      .check(
        z.minLength(1),
        z.maxLength(128),
        z.describe('The confirm request that made the change, for tracing'),
      ),
  })
  .check(
    z.meta({
      title: 'PasswordChanged detail',
      description:
        'EventBridge detail of source "password-reset", detail-type "PasswordChanged". Delivered at least once.',
    }),
  );

export type PasswordChangedDetail = z.infer<typeof passwordChangedDetail>;

export interface PasswordChangeFacts {
  userId: string;
  /** The version the user has AFTER the change: the transaction is conditioned on the one before. */
  credentialVersion: number;
  changedAt: number;
  method: PasswordChangedDetail['method'];
  requestId: string;
}

/** The outbox item to put in the token table, with a fresh eventId. */
export function passwordChangedOutboxItem(facts: PasswordChangeFacts): Record<string, unknown> {
  const detail: PasswordChangedDetail = passwordChangedDetail.parse({
    eventId: randomUUID(),
    userId: facts.userId,
    credentialVersion: facts.credentialVersion,
    changedAt: new Date(facts.changedAt).toISOString(),
    method: facts.method,
    requestId: facts.requestId,
  });
  return {
    [TOKEN_TABLE.partitionKey]: `${OUTBOX_PREFIX}${detail.eventId}`,
    detailType: PASSWORD_CHANGED.detailType,
    detail,
    [TOKEN_TABLE.ttlAttribute]: Math.ceil(facts.changedAt / 1000) + OUTBOX_TTL_SECONDS,
  };
}

/** The transaction entry for an outbox item; an eventId is never reused, so never overwrite. */
export function outboxPut(tableName: string, item: Record<string, unknown>) {
  return {
    Put: {
      TableName: tableName,
      Item: item,
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': TOKEN_TABLE.partitionKey },
    },
  };
}

/**
 * The Lambda event-source filter: new outbox items only. The publisher applies the same test in
 * code (isOutboxInsert), so the local stream reader, which has no filter, behaves identically.
 */
export const OUTBOX_STREAM_FILTER = {
  eventName: ['INSERT'],
  dynamodb: { Keys: { [TOKEN_TABLE.partitionKey]: { S: [{ prefix: OUTBOX_PREFIX }] } } },
};
