import { loadConfig } from '../lib/config';
import { RateLimitedError, RequestError } from '../lib/errors';
import { createEndpoint } from '../lib/http/endpoint';
import { codeRequestedBody, REQUEST_ACCEPTED_BODY, requestResetBody } from '../lib/http/schemas';
import { requestReset } from '../lib/request-reset';
import { createRequestRuntime } from '../lib/request-runtime';
import { resolveSecretSettings } from '../lib/secrets';

/**
 * POST /api/auth/password-reset/request {email, method?}: always the same 200 unless the caller's
 * IP is over its limit (a code request's 200 also carries the flowId every request gets). The
 * account's work is handed to the reset worker through its queue.
 */
// Secrets (the account-key salt, the origin secret) are read once per container, at cold start.
const { config, logger, metrics, deps } = createRequestRuntime(
  loadConfig(await resolveSecretSettings(process.env)),
);

export const handler = createEndpoint({
  schema: requestResetBody,
  logger,
  metrics,
  originVerifySecret: config.originVerifySecret,
  handle: async ({ email, method }, meta) => {
    const result = await requestReset({ email, method, ...meta }, deps);
    if (result.status === 'method_not_enabled')
      throw new RequestError(400, 'invalid_request', 'Reset method not enabled', [
        { path: 'method', message: `must be one of: ${config.resetMethods.join(', ')}` },
      ]);
    if (result.status === 'rate_limited') throw new RateLimitedError(result.retryAfterSeconds);
    const body = result.flowId === undefined ? REQUEST_ACCEPTED_BODY : codeRequestedBody(result.flowId);
    return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body };
  },
});
