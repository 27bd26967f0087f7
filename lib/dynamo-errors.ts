import { AwsServiceError } from './aws/aws-json-request';
import { DependencyUnavailableError } from './errors';

/**
 * What a failed DynamoDB call means to the service, whichever way it was sent: the SDK client
 * (confirm, the worker) or the signed call (the request function's limiter). Kept apart from
 * the client's construction so that the signed path bundles no generated client.
 */

const TRANSIENT_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
  // Another transaction holds the item, or this one is still running: try again shortly.
  'TransactionInProgressException',
  'TransactionConflictException',
  // Our own deadline aborted the call: nothing more can be said in time.
  'AbortError',
]);

/** Cancellation reasons that mean "try again", not "your condition failed" or "your request is wrong". */
const RETRYABLE_CANCELLATIONS = new Set([
  'None',
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'RequestLimitExceeded',
  'TransactionConflict',
]);

function isRetryableCancellation(error: Error): boolean {
  if (error.name !== 'TransactionCanceledException') return false;
  const reasons = (error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? [];
  return reasons.length > 0 && reasons.every((reason) => RETRYABLE_CANCELLATIONS.has(reason.Code ?? 'None'));
}

/** The HTTP status of a service's answer; undefined when none came (a network failure). */
function statusOf(error: Error): number | undefined {
  if (error instanceof AwsServiceError) return error.statusCode;
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/**
 * Network failures, timeouts, throttling and 5xx become DependencyUnavailableError (a 503).
 * Anything else (a validation error is a bug) is rethrown as is and becomes a 500.
 */
export function classifyDynamoError(error: unknown): Error {
  if (!(error instanceof Error)) return new Error('Non-error thrown by DynamoDB client');
  const status = statusOf(error);
  const code = (error as { code?: string }).code;
  const network = status === undefined && (code !== undefined || error.name === 'TimeoutError');
  const transient = TRANSIENT_NAMES.has(error.name) || isRetryableCancellation(error);
  if (network || (status !== undefined && status >= 500) || transient) {
    return new DependencyUnavailableError('DynamoDB', { cause: error });
  }
  return error;
}

/** Runs one DynamoDB call and classifies its failure. */
export async function dynamoCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw classifyDynamoError(error);
  }
}
