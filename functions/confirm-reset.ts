import { loadConfig } from '../lib/config';
import { type ConfirmResetDeps, confirmReset } from '../lib/confirm-reset';
import { RateLimitedError } from '../lib/errors';
import { createEndpoint } from '../lib/http/endpoint';
import { problemResponse } from '../lib/http/problem';
import { confirmResetBody, RESET_COMPLETED_BODY } from '../lib/http/schemas';
import { createPasswordHasher } from '../lib/passwords/password-hasher';
import { createBreachCheckFor, createRuntime } from '../lib/runtime';
import { resolveSecretSettings } from '../lib/secrets';

/**
 * POST /api/auth/password-reset/confirm {token, newPassword} or {flowId, code, newPassword}:
 * sets the password and consumes the link or code. It never signs the user in: no cookie, no session, no auth token in the answer.
 */
// Secrets (the account-key salt, the origin secret) are read once per container, at cold start.
const runtime = createRuntime(loadConfig(await resolveSecretSettings(process.env)));

const deps: ConfirmResetDeps = {
  ...runtime,
  hashPassword: createPasswordHasher(runtime.config.bcryptCost),
  checkBreached: createBreachCheckFor(runtime.config, runtime.logger, runtime.metrics),
};

export const handler = createEndpoint({
  schema: confirmResetBody,
  logger: runtime.logger,
  metrics: runtime.metrics,
  originVerifySecret: runtime.config.originVerifySecret,
  handle: async (body, meta) => {
    const result = await confirmReset({ ...body, ...meta }, deps);
    switch (result.status) {
      case 'completed':
        return {
          statusCode: 200,
          headers: { 'Content-Type': 'application/json' },
          body: RESET_COMPLETED_BODY,
        };
      case 'invalid_token':
        return problemResponse('invalid_or_expired_token');
      case 'invalid_code':
        return problemResponse('invalid_or_expired_code');
      case 'weak_password':
        return problemResponse('weak_password', { violations: result.violations });
      case 'rate_limited':
        throw new RateLimitedError(result.retryAfterSeconds);
    }
  },
});
