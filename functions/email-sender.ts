import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadConfig } from '../lib/config';
import { createSenderRuntime } from '../lib/email/sender-runtime';
import { resolveSecretSettings } from '../lib/secrets';

/**
 * The email sender: an SQS event source mapping with ReportBatchItemFailures feeds it batches
 * of rendered messages; it delivers each once through the configured provider (mock, SES or
 * SMTP) after its own kill-switch check. The provider and the SMTP secret load at cold start.
 */
const {
  logger,
  metrics,
  handler: sendBatch,
} = await createSenderRuntime(
  // The account-key secret, read at cold start: suppression keys must match the request function's.
  loadConfig(await resolveSecretSettings(process.env)),
);

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .use(logMetrics(metrics))
  .handler((event, context) => sendBatch(event, context));
