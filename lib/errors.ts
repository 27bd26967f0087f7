/**
 * The service's error hierarchy. Expected outcomes (an invalid token, a weak password)
 * are results, not exceptions; these are for misuse and failures.
 */

/** The environment is misconfigured. Thrown at cold start, never per request. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A request the client must fix. `code` is part of the public API contract. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly status: 400 | 403 | 413 | 415,
    readonly code:
      | 'invalid_request'
      | 'malformed_json'
      | 'forbidden'
      | 'payload_too_large'
      | 'unsupported_media_type',
    message: string,
    readonly details?: ReadonlyArray<{ path: string; message: string }>,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A rate limit was hit. Only per-IP limits surface this; per-account limits stay silent. */
export class RateLimitedError extends Error {
  override name = 'RateLimitedError';
  constructor(readonly retryAfterSeconds: number) {
    super('Too many requests');
  }
}

/** A dependency (DynamoDB) did not answer. Mapped to a generic 503. */
export class DependencyUnavailableError extends Error {
  override name = 'DependencyUnavailableError';
  constructor(dependency: string, options?: ErrorOptions) {
    super(`${dependency} is unavailable`, options);
  }
}

/**
 * An email provider refused or failed a delivery. `transient` failures (throttling, 5xx,
 * timeouts, SMTP 4xx, lost connections) are retried with backoff; permanent ones (invalid
 * address, rejected message, SMTP 5xx) go straight to the dead-letter queue.
 */
export class EmailDeliveryError extends Error {
  override name = 'EmailDeliveryError';
  constructor(
    readonly transient: boolean,
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(`Email delivery failed (${transient ? 'transient' : 'permanent'}: ${code})`, options);
  }
}
