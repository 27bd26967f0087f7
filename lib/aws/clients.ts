// Only the client: its commands are imported where they are sent, so bundles keep what they use.
import { SQSClient } from '@aws-sdk/client-sqs';

/** The SQS client every function uses: short timeouts, so a sick queue is a quick failure. */
export function createSqsClient(): SQSClient {
  return new SQSClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true },
  });
}
