import { randomInt } from 'node:crypto';
import { METRICS } from '../audit';
import { createSqsClient } from '../aws/clients';
import { systemClock } from '../clock';
import { type Config, requireSetting } from '../config';
import { queueReporter, sqsQueueControls, tokenTableIdempotencyStore } from '../jobs/sqs-plumbing';
import { createPseudonymizer } from '../pseudonym';
import { createObservedKillSwitch } from '../runtime';
import { createTelemetry } from '../telemetry';
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
  const { logger, metrics } = createTelemetry();
  const deadLetterQueueUrl = requireSetting(config.email.deadLetterQueueUrl, 'EMAIL_DLQ_URL');
  const queueUrl = requireSetting(config.email.queueUrl, 'EMAIL_QUEUE_URL');
  const provider = await createEmailProvider(config.email);
  const handler = createEmailSender({
    provider,
    killSwitch: createObservedKillSwitch(config, logger, metrics),
    persistenceStore: tokenTableIdempotencyStore(config.tokenTableName),
    queue: sqsQueueControls(createSqsClient(), queueUrl, deadLetterQueueUrl),
    pseudonymize: createPseudonymizer(config.accountKeySalt),
    clock: systemClock,
    random: () => randomInt(0, 1_000_000) / 1_000_000,
    report: queueReporter(logger, metrics, SENDER_METRIC, (event) =>
      event === 'email_dead_lettered' ? 'error' : event === 'email_retry_scheduled' ? 'warn' : 'info',
    ),
    config: config.email,
  });
  return { config, logger, metrics, handler };
}
