import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { publishOutboxBatch } from '../lib/events/publish-password-changed';
import { createPublisherRuntime, loadPublisherConfig } from '../lib/events/publisher-runtime';

/**
 * The token table's stream (filtered to new `outbox#` items) -> EventBridge PasswordChanged.
 * Failed records go back to the stream as partial batch failures; the event source mapping
 * retries them, bisects on error, and after its limits sends the batch to the on-failure queue.
 */
const { logger, metrics, deps } = createPublisherRuntime(loadPublisherConfig());

export const handler = async (
  event: DynamoDBStreamEvent,
  context: Context,
): Promise<DynamoDBBatchResponse> => {
  logger.addContext(context);
  try {
    return await publishOutboxBatch(event, deps, context);
  } finally {
    metrics.publishStoredMetrics();
  }
};
