import { randomBytes, randomInt } from 'node:crypto';
import { METRICS } from './audit';
import { createSqsClient } from './aws/clients';
import { type Config, requireSetting } from './config';
import { queueReporter, sqsQueueControls, tokenTableIdempotencyStore } from './jobs/sqs-plumbing';
import { createResetWorker, type ResetWorkerEvent } from './reset-worker';
import { createRuntime } from './runtime';

const WORKER_METRIC: Record<ResetWorkerEvent, string> = {
  reset_job_retry_scheduled: METRICS.resetJobRetryScheduled,
  reset_job_dead_lettered: METRICS.resetJobDeadLettered,
};

/** The reset worker's composition root: the account's stores, the kill-switch, mail and its queue. */
export function createWorkerRuntime(config: Config) {
  const runtime = createRuntime(config);
  const { logger, metrics } = runtime;
  const handler = createResetWorker({
    ...runtime,
    random: randomBytes,
    persistenceStore: tokenTableIdempotencyStore(config.tokenTableName),
    queue: sqsQueueControls(
      createSqsClient(),
      requireSetting(config.resetJobs.queueUrl, 'RESET_JOBS_QUEUE_URL'),
      requireSetting(config.resetJobs.deadLetterQueueUrl, 'RESET_JOBS_DLQ_URL'),
    ),
    jitter: () => randomInt(0, 1_000_000) / 1_000_000,
    report: queueReporter(logger, metrics, WORKER_METRIC, (event) =>
      event === 'reset_job_dead_lettered' ? 'error' : 'warn',
    ),
    policy: config.resetJobs,
  });
  return { config, logger, metrics, handler };
}
