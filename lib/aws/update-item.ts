import { classifyDynamoError } from '../dynamo-errors';
import { type AwsJsonOptions, AwsServiceError, CLIENT_OPTIONS, createAwsJsonCall } from './aws-json-request';

/**
 * DynamoDB UpdateItem as a port: the wire's own AttributeValue JSON, so the same caller (the
 * rate limiter) runs over the SDK client (lib/dynamo.ts, sdkUpdateItem) where a function has
 * one anyway, and over one signed call where a generated client would cost its cold start.
 */
export type AttributeValue = { S: string } | { N: string };
export type Item = Record<string, AttributeValue>;

export interface UpdateItemInput {
  TableName: string;
  Key: Item;
  UpdateExpression: string;
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
  ReturnValuesOnConditionCheckFailure?: 'ALL_OLD' | 'NONE';
}

/**
 * A failed condition is an outcome, with the item as it was when ALL_OLD was asked for. Other
 * failures throw: DependencyUnavailableError for network, throttling and 5xx, else as is.
 */
export type UpdateItemOutcome =
  | { conditionFailed: false }
  | { conditionFailed: true; item: Item | undefined };

export type UpdateItem = (input: UpdateItemInput) => Promise<UpdateItemOutcome>;

export const CONDITIONAL_CHECK_FAILED = 'ConditionalCheckFailedException';

/** UpdateItem over one signed AWS JSON 1.0 call. */
export function signedUpdateItem(options: AwsJsonOptions = CLIENT_OPTIONS): UpdateItem {
  const call = createAwsJsonCall(
    {
      service: 'dynamodb',
      targetPrefix: 'DynamoDB_20120810',
      endpointVariable: 'AWS_ENDPOINT_URL_DYNAMODB',
      jsonVersion: '1.0',
    },
    options,
  );
  return async (input) => {
    try {
      await call('UpdateItem', { ...input });
      return { conditionFailed: false };
    } catch (error) {
      if (error instanceof AwsServiceError && error.name === CONDITIONAL_CHECK_FAILED)
        return { conditionFailed: true, item: error.body.Item as Item | undefined };
      throw classifyDynamoError(error);
    }
  };
}
