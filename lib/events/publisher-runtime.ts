import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import * as z from 'zod/mini';
import '../zod-messages';
import { METRIC_NAMESPACE, METRICS } from '../audit';
import { ConfigError } from '../errors';
import { SERVICE_NAME } from '../telemetry';
import type { OutboxPublisherDeps } from './publish-password-changed';

/** The publisher's one setting; the confirm function's settings live in lib/config.ts. */
const publisherSettings = z.object({ EVENT_BUS_NAME: z.string().check(z.minLength(1), z.maxLength(1600)) });

export function loadPublisherConfig(env: NodeJS.ProcessEnv = process.env): { eventBusName: string } {
  const parsed = publisherSettings.safeParse(env);
  if (!parsed.success)
    throw new ConfigError('Invalid configuration: EVENT_BUS_NAME: required (the bus name or ARN)');
  return { eventBusName: parsed.data.EVENT_BUS_NAME };
}

/**
 * The publisher's dependencies, once per container. The EventBridge endpoint comes from the
 * SDK's own AWS_ENDPOINT_URL_EVENTBRIDGE, so the local stand-in takes the same code path.
 */
export function createPublisherRuntime(config: { eventBusName: string }) {
  const logger = new Logger({ serviceName: SERVICE_NAME });
  const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: SERVICE_NAME });
  const client = new EventBridgeClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
  });
  const deps: OutboxPublisherDeps = {
    eventBusName: config.eventBusName,
    putEvents: (entries) => client.send(new PutEventsCommand({ Entries: entries })),
    log: (event, fields) => {
      if (event === 'password_changed_published') {
        logger.info(event, { ...fields });
        metrics.addMetric(METRICS.passwordChangedPublished, MetricUnit.Count, 1);
      } else {
        logger.error(event, { ...fields });
        metrics.addMetric(METRICS.passwordChangedPublishFailed, MetricUnit.Count, 1);
      }
    },
  };
  return { logger, metrics, deps };
}
