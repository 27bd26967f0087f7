import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { TOKEN_TABLE } from '../table-schema';
import type { QueueControls } from './queue-consumer';

/** What both queue-fed functions need around the shared consumer, built the same way for each. */

/** Retry-later and dead-letter on a real queue pair. */
export function sqsQueueControls<L>(
  sqs: SQSClient,
  queueUrl: string,
  deadLetterQueueUrl: string,
): QueueControls<L> {
  return {
    retryLater: async (receiptHandle, seconds) => {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    },
    deadLetter: async (letter) => {
      await sqs.send(
        new SendMessageCommand({ QueueUrl: deadLetterQueueUrl, MessageBody: JSON.stringify(letter) }),
      );
    },
  };
}

/** Powertools Idempotency records in the token table, reaped by its TTL attribute. */
export function tokenTableIdempotencyStore(
  tableName: string,
  client: DynamoDBClient = new DynamoDBClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true },
  }),
): DynamoDBPersistenceLayer {
  return new DynamoDBPersistenceLayer({
    tableName,
    keyAttr: TOKEN_TABLE.partitionKey,
    expiryAttr: TOKEN_TABLE.ttlAttribute,
    awsSdkV3Client: client,
  });
}

/**
 * One structured line and one metric per queue outcome, plus a per-reason series where the
 * outcome has a reason, so an alarm can watch one reason. Fields never hold an address or body.
 */
export function queueReporter<E extends string>(
  logger: Logger,
  metrics: Metrics,
  metricNames: Record<E, string>,
  level: (event: E) => 'info' | 'warn' | 'error',
) {
  return (event: E, fields: Record<string, unknown>) => {
    logger[level(event)](event, fields);
    metrics.addMetric(metricNames[event], MetricUnit.Count, 1);
    if (typeof fields.reason === 'string') {
      const single = metrics.singleMetric();
      single.addDimension('reason', fields.reason);
      single.addMetric(metricNames[event], MetricUnit.Count, 1);
    }
  };
}
