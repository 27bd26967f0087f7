import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DependencyUnavailableError } from './errors';

/**
 * One client per container. Short timeouts and few attempts so that a sick DynamoDB
 * becomes a quick 503 instead of a hanging request. The endpoint comes from the SDK's
 * own AWS_ENDPOINT_URL_DYNAMODB, so local runs take the same code path as Lambda.
 */
export function createDocumentClient(): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true },
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

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

/**
 * Network failures, timeouts, throttling and 5xx become DependencyUnavailableError (a 503).
 * Anything else (a validation error is a bug) is rethrown as is and becomes a 500.
 */
export function classifyDynamoError(error: unknown): Error {
  if (!(error instanceof Error)) return new Error('Non-error thrown by DynamoDB client');
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
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
