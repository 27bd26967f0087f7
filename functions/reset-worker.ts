import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadConfig } from '../lib/config';
import { resolveSecretSettings } from '../lib/secrets';
import { createWorkerRuntime } from '../lib/worker-runtime';

/**
 * The reset worker: an SQS event source mapping with ReportBatchItemFailures feeds it batches of
 * reset jobs from the request function; it does each account's work once (lib/process-reset-job.ts)
 * and retries a job while a dependency is unavailable.
 */
const {
  logger,
  metrics,
  handler: workBatch,
} = createWorkerRuntime(loadConfig(await resolveSecretSettings(process.env)));

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .use(logMetrics(metrics))
  .handler((event, context) => workBatch(event, context));
