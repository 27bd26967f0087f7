import { randomBytes } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { createAudit, METRICS } from './audit';
import { signedSendMessage } from './aws/send-message';
import { signedUpdateItem } from './aws/update-item';
import { systemClock } from './clock';
import { type Config, requireSetting } from './config';
import { SqsResetJobQueue } from './jobs/reset-job';
import { RateLimiter } from './limits/rate-limiter';
import { createPseudonymizer } from './pseudonym';
import type { RequestResetDeps } from './request-reset';
import { createTelemetry } from './telemetry';

/**
 * The request function's composition root: the per-IP limiter and the job queue, nothing of the
 * account (no users table, no kill-switch, no email), which keeps its bundle and its role small.
 * Its two calls are signed by hand: no generated DynamoDB or SQS client to load at cold start.
 */
export function createRequestRuntime(config: Config) {
  const { logger, metrics } = createTelemetry();
  const deps: RequestResetDeps = {
    rateLimiter: new RateLimiter(signedUpdateItem(), config.tokenTableName),
    jobs: new SqsResetJobQueue(
      signedSendMessage(),
      requireSetting(config.resetJobs.queueUrl, 'RESET_JOBS_QUEUE_URL'),
    ),
    audit: createAudit(logger, metrics),
    pseudonymize: createPseudonymizer(config.accountKeySalt),
    clock: systemClock,
    random: randomBytes,
    onFloorExceeded: (elapsedMs) => {
      logger.warn('response_floor_exceeded', { elapsedMs, floorMs: config.requestResponseFloorMs });
      metrics.addMetric(METRICS.responseFloorExceeded, MetricUnit.Count, 1);
    },
    config,
  };
  return { config, logger, metrics, deps };
}
