import type { Item, UpdateItem } from '../aws/update-item';
import type { RateRule } from '../config';
import { TOKEN_TABLE } from '../table-schema';

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Fixed-window counters in the token table: one item per scope and key, holding one counter per
 * rule and window (`w<seconds>_<windowStart>`), deleted by TTL. A hit is ONE conditional
 * UpdateItem over every rule of the list: DynamoDB applies the increments only while every
 * counter is below its limit, so concurrent requests never overshoot, and a denied event counts
 * against no window at all. The call goes through an UpdateItem port (lib/aws/update-item.ts):
 * the request function sends it signed, without a generated client; confirm and the worker
 * through the SDK client they hold anyway.
 */
export class RateLimiter {
  constructor(
    private readonly updateItem: UpdateItem,
    private readonly tableName: string,
  ) {}

  /** Counts one event against every rule, or none when any rule is full. */
  async hit(scope: string, key: string, rules: readonly RateRule[], now: number): Promise<RateDecision> {
    const windows = rules.map((rule, index) => this.window(rule, index, now));
    const names = Object.fromEntries(windows.map((w) => [w.name, w.attribute]));
    const stale = windows.map((w) => w.previousName);
    const outcome = await this.updateItem({
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
        ':one': number(1),
        ':ttl': number(Math.max(...windows.map((w) => w.end))),
        ...Object.fromEntries(windows.map((w) => [w.limitValue, number(w.rule.limit)])),
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    if (!outcome.conditionFailed) return { allowed: true };
    // The longest wait among the full windows: sooner, the event would still be refused.
    const item: Item = outcome.item ?? {};
    const nowSeconds = Math.floor(now / 1000);
    const waits = windows
      .filter((w) => counterOf(item, w.attribute) >= w.rule.limit)
      .map((w) => Math.max(1, w.end - nowSeconds));
    return { allowed: false, retryAfterSeconds: waits.length > 0 ? Math.max(...waits) : 1 };
  }

  /** Gives one event back to every rule, e.g. a confirm that turned out not to be a failed attempt. */
  async refund(scope: string, key: string, rules: readonly RateRule[], now: number): Promise<void> {
    if (rules.length === 0) return;
    const windows = rules.map((rule, index) => this.window(rule, index, now));
    // A failed condition (nothing left to give back) is not an error: the outcome is ignored.
    await this.updateItem({
      TableName: this.tableName,
      Key: this.key(scope, key),
      UpdateExpression: `ADD ${windows.map((w) => `${w.name} :minusOne`).join(', ')}`,
      // Never below zero, and never into a window that has already rolled over.
      ConditionExpression: windows.map((w) => `${w.name} > :zero`).join(' AND '),
      ExpressionAttributeNames: Object.fromEntries(windows.map((w) => [w.name, w.attribute])),
      ExpressionAttributeValues: { ':minusOne': number(-1), ':zero': number(0) },
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

  private key(scope: string, key: string): Item {
    return { [TOKEN_TABLE.partitionKey]: { S: `rate#${scope}#${key}` } };
  }
}

const number = (value: number) => ({ N: String(value) });

function counterOf(item: Item, attribute: string): number {
  const value = item[attribute];
  return value && 'N' in value ? Number(value.N) : 0;
}
