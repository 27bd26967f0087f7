import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DependencyUnavailableError, RateLimitedError, RequestError } from '../errors';

/**
 * The public error contract: RFC 9457 problem+json with a stable `code` member.
 * This module is the one place that builds an error response.
 */
const CATALOG = {
  invalid_request: { status: 400, title: 'The request body is not valid for this endpoint.' },
  malformed_json: { status: 400, title: 'The request body is not well-formed JSON.' },
  invalid_or_expired_token: {
    status: 400,
    title: 'The reset link is invalid or has expired. Request a new one.',
  },
  invalid_or_expired_code: {
    status: 400,
    title: 'The code is invalid or has expired. Request a new one.',
  },
  forbidden: { status: 403, title: 'Send requests to the service through its public address.' },
  not_found: { status: 404, title: 'There is no such endpoint.' },
  method_not_allowed: { status: 405, title: 'This endpoint accepts POST only.' },
  payload_too_large: { status: 413, title: 'The request body is too large.' },
  unsupported_media_type: { status: 415, title: 'Send the request body as application/json.' },
  weak_password: { status: 422, title: 'The new password does not meet the password policy.' },
  rate_limited: { status: 429, title: 'Too many requests. Try again later.' },
  internal_error: { status: 500, title: 'Something went wrong on our side.' },
  service_unavailable: { status: 503, title: 'The service is temporarily unavailable. Try again shortly.' },
} as const;

export type ProblemCode = keyof typeof CATALOG;

/** Every code the service can answer with, in catalog order (the OpenAPI document's `code` enums). */
export const PROBLEM_CODES = Object.keys(CATALOG) as ProblemCode[];

/** Seconds a client should wait after a 503, before trying again. */
const UNAVAILABLE_RETRY_SECONDS = 5;

/** Every 503, including the early-timeout answer, tells the client when to try again. */
export function unavailableResponse(): APIGatewayProxyStructuredResultV2 {
  return problemResponse('service_unavailable', {}, { 'Retry-After': String(UNAVAILABLE_RETRY_SECONDS) });
}

export function problemResponse(
  code: ProblemCode,
  extension: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  const { status, title } = CATALOG[code];
  return {
    statusCode: status,
    headers: { 'Content-Type': 'application/problem+json', ...headers },
    body: JSON.stringify({ type: `tag:password-reset,2026:${code}`, title, status, code, ...extension }),
  };
}

/** Turns any thrown error into problem+json. Unknown errors become a generic 500, never their message. */
export function errorToProblem(error: unknown): APIGatewayProxyStructuredResultV2 {
  if (error instanceof RequestError) {
    return problemResponse(error.code, error.details ? { errors: error.details } : {});
  }
  if (error instanceof RateLimitedError) {
    return problemResponse('rate_limited', {}, { 'Retry-After': String(error.retryAfterSeconds) });
  }
  if (error instanceof DependencyUnavailableError) {
    return unavailableResponse();
  }
  const middyStatus = (error as { statusCode?: unknown } | null)?.statusCode;
  // The middy JSON parser throws 415 for a wrong content type and 422 for a body it cannot parse.
  if (middyStatus === 415) return problemResponse('unsupported_media_type');
  if (middyStatus === 422) return problemResponse('malformed_json');
  return problemResponse('internal_error');
}

/** Whether an error is the client's doing (logged at info) rather than ours (logged as an error). */
export function isClientError(error: unknown): boolean {
  return (errorToProblem(error).statusCode ?? 500) < 500;
}
