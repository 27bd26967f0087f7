import { randomInt } from 'node:crypto';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { METRIC_NAMESPACE, METRICS } from '../audit';
import { systemClock } from '../clock';
import { type Config, requireSetting } from '../config';
import { createPseudonymizer } from '../pseudonym';
import { createObservedKillSwitch, SERVICE_NAME } from '../runtime';
import { TOKEN_TABLE } from '../table-schema';
import { createEmailSender, type SenderEvent } from './email-sender';
import { createEmailProvider } from './providers/create-provider';

const SENDER_METRIC: Record<SenderEvent, string> = {
  email_delivered: METRICS.emailDelivered,
  email_dropped: METRICS.emailDropped,
  email_retry_scheduled: METRICS.emailRetryScheduled,
  email_dead_lettered: METRICS.emailDeadLettered,
};

/** Everything the sender function needs, built once per container (the provider at cold start). */
export async function createSenderRuntime(config: Config) {
  const logger = new Logger({ serviceName: SERVICE_NAME });
  const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: SERVICE_NAME });
  const deadLetterQueueUrl = requireSetting(config.email.deadLetterQueueUrl, 'EMAIL_DLQ_URL');
  const provider = await createEmailProvider(config.email);
  const sqs = new SQSClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true },
  });
  const queueUrl = requireSetting(config.email.queueUrl, 'EMAIL_QUEUE_URL');
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: config.tokenTableName,
    keyAttr: TOKEN_TABLE.partitionKey,
    // The token table's TTL attribute, so DynamoDB reaps old idempotency records.
    expiryAttr: TOKEN_TABLE.ttlAttribute,
    awsSdkV3Client: new DynamoDBClient({
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true },
    }),
  });
  const handler = createEmailSender({
    provider,
    killSwitch: createObservedKillSwitch(config, logger, metrics),
    persistenceStore,
    queue: {
      retryLater: async (receiptHandle, seconds) => {
        await sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: receiptHandle,
            VisibilityTimeout: seconds,
          }),
        );
      },
      deadLetter: async (record) => {
        await sqs.send(
          new SendMessageCommand({ QueueUrl: deadLetterQueueUrl, MessageBody: JSON.stringify(record) }),
        );
      },
    },
    pseudonymize: createPseudonymizer(config.accountKeySalt),
    clock: systemClock,
    random: () => randomInt(0, 1_000_000) / 1_000_000,
    report: (event, fields) => {
      const level =
        event === 'email_dead_lettered' ? 'error' : event === 'email_retry_scheduled' ? 'warn' : 'info';
      logger[level](event, fields);
      metrics.addMetric(SENDER_METRIC[event], MetricUnit.Count, 1);
      if (typeof fields.reason === 'string') {
        const single = metrics.singleMetric();
        single.addDimension('reason', fields.reason);
        single.addMetric(SENDER_METRIC[event], MetricUnit.Count, 1);
      }
    },
    config: config.email,
  });
  return { config, logger, metrics, handler };
}
