import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RateRule } from '../config';
import { dynamoCall } from '../dynamo';
import { TOKEN_TABLE } from '../table-schema';

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Fixed-window counters in the token table: one item per scope and key, holding one counter per
 * rule and window (`w<seconds>_<windowStart>`), deleted by TTL. A hit is ONE conditional
 * UpdateItem over every rule of the list: DynamoDB applies the increments only while every
 * counter is below its limit, so concurrent requests never overshoot, and a denied event counts
 * against no window at all.
 */
export class RateLimiter {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Counts one event against every rule, or none when any rule is full. */
  async hit(scope: string, key: string, rules: readonly RateRule[], now: number): Promise<RateDecision> {
    const windows = rules.map((rule, index) => this.window(rule, index, now));
    const names = Object.fromEntries(windows.map((w) => [w.name, w.attribute]));
    const stale = windows.map((w) => w.previousName);
    try {
      await dynamoCall(() =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: this.key(scope, key),
            UpdateExpression: `ADD ${windows.map((w) => `${w.name} :one`).join(', ')} SET #ttl = :ttl REMOVE ${stale.join(', ')}`,
            // Every counter below its limit: a window not started yet has no counter at all.
            ConditionExpression: windows
              .map((w) => `(attribute_not_exists(${w.name}) OR ${w.name} < ${w.limitValue})`)
              .join(' AND '),
            ExpressionAttributeNames: {
              ...names,
              ...Object.fromEntries(windows.map((w) => [w.previousName, w.previousAttribute])),
              '#ttl': TOKEN_TABLE.ttlAttribute,
            },
            ExpressionAttributeValues: {
              ':one': 1,
              ':ttl': Math.max(...windows.map((w) => w.end)),
              ...Object.fromEntries(windows.map((w) => [w.limitValue, w.rule.limit])),
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return { allowed: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // The longest wait among the full windows: sooner, the event would still be refused.
      const item = (error.Item ?? {}) as Record<string, { N?: string } | undefined>;
      const nowSeconds = Math.floor(now / 1000);
      const waits = windows
        .filter((w) => Number(item[w.attribute]?.N ?? 0) >= w.rule.limit)
        .map((w) => Math.max(1, w.end - nowSeconds));
      return { allowed: false, retryAfterSeconds: waits.length > 0 ? Math.max(...waits) : 1 };
    }
  }

  /** Gives one event back to every rule, e.g. a confirm that turned out not to be a failed attempt. */
  async refund(scope: string, key: string, rules: readonly RateRule[], now: number): Promise<void> {
    if (rules.length === 0) return;
    const windows = rules.map((rule, index) => this.window(rule, index, now));
    await dynamoCall(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(scope, key),
          UpdateExpression: `ADD ${windows.map((w) => `${w.name} :minusOne`).join(', ')}`,
          // Never below zero, and never into a window that has already rolled over.
          ConditionExpression: windows.map((w) => `${w.name} > :zero`).join(' AND '),
          ExpressionAttributeNames: Object.fromEntries(windows.map((w) => [w.name, w.attribute])),
          ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
        }),
      ),
    ).catch((error: unknown) => {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    });
  }

  private window(rule: RateRule, index: number, now: number) {
    const nowSeconds = Math.floor(now / 1000);
    const start = nowSeconds - (nowSeconds % rule.windowSeconds);
    return {
      rule,
      name: `#w${index}`,
      attribute: `w${rule.windowSeconds}_${start}`,
      // The window before this one: removed on each hit, so an item holds only live counters.
      previousName: `#p${index}`,
      previousAttribute: `w${rule.windowSeconds}_${start - rule.windowSeconds}`,
      limitValue: `:limit${index}`,
      end: start + rule.windowSeconds,
    };
  }

  private key(scope: string, key: string) {
    return { [TOKEN_TABLE.partitionKey]: `rate#${scope}#${key}` };
  }
}
