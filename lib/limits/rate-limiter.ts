import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RateRule } from '../config';
import { dynamoCall } from '../dynamo';
import { TOKEN_TABLE } from '../table-schema';

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Fixed-window counters in the token table, one item per key and window, deleted by TTL.
 * Each hit is one conditional UpdateItem, so concurrent requests can never overshoot:
 * DynamoDB applies the increment only while the count is below the limit.
 */
export class RateLimiter {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Counts one event against the rules, in order. The first full rule denies, and the rules
   * before it get their count back, so a denied event never uses up a longer window.
   */
  async hit(scope: string, key: string, rules: readonly RateRule[], now: number): Promise<RateDecision> {
    for (const [index, rule] of rules.entries()) {
      const retryAfterSeconds = await this.hitRule(scope, key, rule, now);
      if (retryAfterSeconds !== null) {
        await this.refund(scope, key, rules.slice(0, index), now);
        return { allowed: false, retryAfterSeconds };
      }
    }
    return { allowed: true };
  }

  /** Gives one event back, e.g. a confirm that turned out not to be a failed attempt. */
  async refund(scope: string, key: string, rules: readonly RateRule[], now: number): Promise<void> {
    await Promise.all(
      rules.map((rule) =>
        dynamoCall(() =>
          this.client.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: this.key(scope, key, rule, now),
              UpdateExpression: 'ADD hits :minusOne',
              ConditionExpression: 'hits > :zero',
              ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
            }),
          ),
        ).catch((error: unknown) => {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }),
      ),
    );
  }

  /** Returns null when allowed, or the seconds until the window resets. */
  private async hitRule(scope: string, key: string, rule: RateRule, now: number): Promise<number | null> {
    const windowStart = this.windowStart(rule, now);
    const windowEnd = windowStart + rule.windowSeconds;
    try {
      await dynamoCall(() =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: this.key(scope, key, rule, now),
            UpdateExpression: 'ADD hits :one SET #ttl = if_not_exists(#ttl, :ttl)',
            ConditionExpression: 'attribute_not_exists(hits) OR hits < :limit',
            ExpressionAttributeNames: { '#ttl': TOKEN_TABLE.ttlAttribute },
            ExpressionAttributeValues: { ':one': 1, ':limit': rule.limit, ':ttl': windowEnd },
          }),
        ),
      );
      return null;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException)
        return Math.max(1, windowEnd - Math.floor(now / 1000));
      throw error;
    }
  }

  private windowStart(rule: RateRule, now: number): number {
    const nowSeconds = Math.floor(now / 1000);
    return nowSeconds - (nowSeconds % rule.windowSeconds);
  }

  private key(scope: string, key: string, rule: RateRule, now: number) {
    return {
      [TOKEN_TABLE.partitionKey]: `rate#${scope}#${key}#${rule.windowSeconds}#${this.windowStart(rule, now)}`,
    };
  }
}
