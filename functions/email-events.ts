import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { METRIC_NAMESPACE, METRICS } from '../lib/audit';
import { systemClock } from '../lib/clock';
import { loadConfig } from '../lib/config';
import { createDocumentClient } from '../lib/dynamo';
import { recordEmailEvent } from '../lib/email/record-email-event';
import { SuppressionStore } from '../lib/email/suppression-store';
import { createPseudonymizer } from '../lib/pseudonym';
import { SERVICE_NAME } from '../lib/runtime';
import { resolveSecretSettings } from '../lib/secrets';

/**
 * SES bounce and complaint events (configuration set -> EventBridge rule -> here). Each
 * permanently bounced or complaining address becomes `suppressed#<accountKey>` with a TTL.
 */
// The account-key secret, read at cold start: suppression keys must match the request function's.
const config = loadConfig(await resolveSecretSettings(process.env));
const logger = new Logger({ serviceName: SERVICE_NAME });
const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: SERVICE_NAME });
const deps = {
  suppressions: new SuppressionStore(createDocumentClient(), config.tokenTableName),
  pseudonymize: createPseudonymizer(config.accountKeySalt),
  clock: systemClock,
  suppressionDays: config.email.suppressionDays,
  report: (fields: Record<string, unknown>) => {
    logger.info('address_suppressed', fields);
    metrics.addMetric(METRICS.addressSuppressed, MetricUnit.Count, 1);
  },
};

export const handler = middy<EventBridgeEvent<string, unknown>, void>()
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .use(logMetrics(metrics))
  .handler(async (event) => {
    await recordEmailEvent(event.detail, deps);
  });
