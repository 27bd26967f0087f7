import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { createAudit, METRICS } from './audit';
import { SsmParameterProvider } from './aws/parameter-providers';
import { signedSendMessage } from './aws/send-message';
import { systemClock } from './clock';
import { createCodeHasher } from './codes/code';
import { FlowStore } from './codes/flow-store';
import { type Config, requireSetting } from './config';
import { createDocumentClient, createDynamoClient, sdkUpdateItem } from './dynamo';
import { EmailQueue } from './email/email-queue';
import { createKillSwitch } from './email/kill-switch';
import { createSendEmail } from './email/send-email';
import { SuppressionStore } from './email/suppression-store';
import { RateLimiter } from './limits/rate-limiter';
import { type CheckBreached, createBreachCheck } from './passwords/breach-check';
import { createPseudonymizer } from './pseudonym';
import { createTelemetry } from './telemetry';
import { TokenStore } from './tokens/token-store';
import { UserStore } from './users/user-store';

export { SERVICE_NAME } from './telemetry';

/**
 * Builds what the confirm function and the reset worker share, once per container. Each adds
 * what only it needs (the password hasher and common-password list stay out of the worker).
 * The request function needs far less and builds it in lib/request-runtime.ts.
 */
export function createRuntime(config: Config) {
  const { logger, metrics } = createTelemetry();
  const dynamo = createDynamoClient();
  const client = createDocumentClient(dynamo);
  const killSwitch = createObservedKillSwitch(config, logger, metrics);
  // Mail is handed to the sender function through SQS: the provider never delays the work.
  const emailQueue = new EmailQueue(
    signedSendMessage(),
    requireSetting(config.email.queueUrl, 'EMAIL_QUEUE_URL'),
  );
  return {
    config,
    logger,
    metrics,
    client,
    killSwitch,
    sendEmail: createSendEmail({
      killSwitch,
      provider: emailQueue,
      log: (event, fields) => logger.info(event, fields),
    }),
    audit: createAudit(logger, metrics),
    pseudonymize: createPseudonymizer(config.accountKeySalt),
    // The SDK client it holds for its other stores: one connection pool to DynamoDB, not two.
    rateLimiter: new RateLimiter(sdkUpdateItem(dynamo), config.tokenTableName),
    tokens: new TokenStore(client, config.tokenTableName, config.usersTableName),
    flows: new FlowStore(client, config.tokenTableName),
    // Code mode: a key derived from the same deployment secret, for another purpose.
    hashCode: createCodeHasher(config.accountKeySalt),
    users: new UserStore(client, config.usersTableName, config.usersEmailIndexName),
    suppressions: new SuppressionStore(client, config.tokenTableName),
    clock: systemClock,
  };
}

/** The kill-switch with its fail-closed log and metric; the sender function builds one too. */
export function createObservedKillSwitch(config: Config, logger: Logger, metrics: Metrics) {
  const ssm = new SsmParameterProvider({
    maxAttempts: 2,
    connectionTimeoutMs: 1_000,
    requestTimeoutMs: 2_000,
  });
  return createKillSwitch({
    provider: ssm,
    parameterName: config.killSwitchParameterName,
    cacheSeconds: config.killSwitchCacheSeconds,
    now: systemClock.now,
    onUnavailable: (error) => {
      // Fail closed, loudly: the alarm on this metric tells operators mail has stopped.
      logger.error('kill_switch_unavailable', { error: error instanceof Error ? error.name : 'unknown' });
      metrics.addMetric(METRICS.killSwitchUnavailable, MetricUnit.Count, 1);
    },
  });
}

/** The breached-password check when PASSWORD_BREACH_CHECK=hibp; it fails open, loudly. */
export function createBreachCheckFor(
  config: Config,
  logger: Logger,
  metrics: Metrics,
): CheckBreached | undefined {
  if (config.breachCheck.mode === 'off') return undefined;
  return createBreachCheck({
    baseUrl: config.breachCheck.baseUrl,
    timeoutMs: config.breachCheck.timeoutMs,
    onUnavailable: (reason) => {
      logger.warn('breach_check_unavailable', { reason });
      metrics.addMetric(METRICS.breachCheckUnavailable, MetricUnit.Count, 1);
    },
  });
}
