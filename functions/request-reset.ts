import { randomBytes } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS } from '../lib/audit';
import { loadConfig } from '../lib/config';
import { RateLimitedError } from '../lib/errors';
import { createEndpoint } from '../lib/http/endpoint';
import { REQUEST_ACCEPTED_BODY, requestResetBody } from '../lib/http/schemas';
import { type RequestResetDeps, requestReset } from '../lib/request-reset';
import { createRuntime } from '../lib/runtime';
import { resolveSecretSettings } from '../lib/secrets';

/** POST /api/auth/password-reset/request {email}: always the same 200 unless the caller's IP is over its limit. */
// Secrets (the account-key salt, the origin secret) are read once per container, at cold start.
const runtime = createRuntime(loadConfig(await resolveSecretSettings(process.env)));
const { logger, metrics } = runtime;

const deps: RequestResetDeps = {
  ...runtime,
  random: randomBytes,
  onFloorExceeded: (elapsedMs) => {
    logger.warn('response_floor_exceeded', { elapsedMs, floorMs: runtime.config.requestResponseFloorMs });
    metrics.addMetric(METRICS.responseFloorExceeded, MetricUnit.Count, 1);
  },
};

export const handler = createEndpoint({
  schema: requestResetBody,
  logger,
  metrics,
  originVerifySecret: runtime.config.originVerifySecret,
  handle: async ({ email }, meta) => {
    const result = await requestReset({ email, ...meta }, deps);
    if (result.status === 'rate_limited') throw new RateLimitedError(result.retryAfterSeconds);
    return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: REQUEST_ACCEPTED_BODY };
  },
});
