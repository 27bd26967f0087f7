import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Item, UpdateItem } from './aws/update-item';
import { CONDITIONAL_CHECK_FAILED } from './aws/update-item';
import { classifyDynamoError } from './dynamo-errors';

/**
 * One client per container. Short timeouts and few attempts so that a sick DynamoDB
 * becomes a quick 503 instead of a hanging request. The endpoint comes from the SDK's
 * own AWS_ENDPOINT_URL_DYNAMODB, so local runs take the same code path as Lambda.
 */
export function createDynamoClient(): DynamoDBClient {
  return new DynamoDBClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true },
  });
}

export function createDocumentClient(client: DynamoDBClient = createDynamoClient()): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** The UpdateItem port over the SDK client, for functions that hold one for their other stores. */
export function sdkUpdateItem(client: Pick<DynamoDBClient, 'send'>): UpdateItem {
  return async (input) => {
    try {
      await client.send(new UpdateItemCommand(input));
      return { conditionFailed: false };
    } catch (error) {
      if (error instanceof Error && error.name === CONDITIONAL_CHECK_FAILED)
        return { conditionFailed: true, item: (error as { Item?: Item }).Item };
      throw classifyDynamoError(error);
    }
  };
}
