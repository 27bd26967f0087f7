import { randomBytes } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS } from '../lib/audit';
import { loadConfig } from '../lib/config';
import { RateLimitedError, RequestError } from '../lib/errors';
import { createEndpoint } from '../lib/http/endpoint';
import { codeRequestedBody, REQUEST_ACCEPTED_BODY, requestResetBody } from '../lib/http/schemas';
import { type RequestResetDeps, requestReset } from '../lib/request-reset';
import { createRuntime } from '../lib/runtime';
import { resolveSecretSettings } from '../lib/secrets';

/**
 * POST /api/auth/password-reset/request {email, method?}: always the same 200 unless the caller's
 * IP is over its limit (a code request's 200 also carries the flowId every request gets).
 */
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
  handle: async ({ email, method }, meta) => {
    const result = await requestReset({ email, method, ...meta }, deps);
    if (result.status === 'method_not_enabled')
      throw new RequestError(400, 'invalid_request', 'Reset method not enabled', [
        { path: 'method', message: `must be one of: ${runtime.config.resetMethods.join(', ')}` },
      ]);
    if (result.status === 'rate_limited') throw new RateLimitedError(result.retryAfterSeconds);
    const body = result.flowId === undefined ? REQUEST_ACCEPTED_BODY : codeRequestedBody(result.flowId);
    return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body };
  },
});
