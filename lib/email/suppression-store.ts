import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoCall } from '../dynamo-errors';
import { TOKEN_TABLE } from '../table-schema';

/**
 * Addresses that bounced or complained, in the token table as `suppressed#<accountKey>` (the
 * same HMAC as the rate limits: no address is stored) with a TTL, e.g. 30 days. The request
 * path sends nothing to them.
 */
export const SUPPRESSED_PREFIX = 'suppressed#';

export type SuppressionReason = 'bounce' | 'complaint';

export class SuppressionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async isSuppressed(accountKey: string, now: number): Promise<boolean> {
    const { Item } = await dynamoCall(() =>
      this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { [TOKEN_TABLE.partitionKey]: `${SUPPRESSED_PREFIX}${accountKey}` },
          ProjectionExpression: '#ttl',
          ExpressionAttributeNames: { '#ttl': TOKEN_TABLE.ttlAttribute },
        }),
      ),
    );
    // TTL deletion is lazy: an expired item no longer suppresses.
    return !!Item && Number(Item[TOKEN_TABLE.ttlAttribute]) * 1000 > now;
  }

  /** Records (or renews) a suppression; the newest event sets the expiry. */
  async suppress(accountKey: string, reason: SuppressionReason, now: number, days: number): Promise<void> {
    await dynamoCall(() =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            [TOKEN_TABLE.partitionKey]: `${SUPPRESSED_PREFIX}${accountKey}`,
            reason,
            suppressedAt: now,
            [TOKEN_TABLE.ttlAttribute]: Math.floor(now / 1000) + days * 86_400,
          },
        }),
      ),
    );
  }
}
