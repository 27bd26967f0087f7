import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { dynamoCall } from '../dynamo';
import { DependencyUnavailableError } from '../errors';
import { outboxPut } from '../events/password-changed';
import { TOKEN_TABLE, USERS_TABLE } from '../table-schema';

/**
 * DynamoDB reads and writes for reset tokens. The token table holds:
 * - `token#<selector>`: userId, verifierHash, expiresAt (ms), ttl (s);
 * - `active#<userId>`: the selector of the one token that may still be used.
 * A new request moves the `active` pointer, which invalidates every older token at once.
 */
export interface StoredToken {
  selector: string;
  userId: string;
  verifierHash: string;
  expiresAt: number;
}

export interface TokenCandidate {
  token: StoredToken;
  /** True when this token is still the user's newest one. */
  isActive: boolean;
  /** The address stored on the user record, or undefined if the user is gone. */
  userEmail: string | undefined;
  /** The user's credentialVersion when read (absent counts as 0). */
  credentialVersion: number;
}

export interface PasswordChange {
  token: StoredToken;
  passwordHash: string;
  changedAt: number;
  /** The credentialVersion read with the candidate: the update requires it unchanged. */
  credentialVersion: number;
  /** A PasswordChanged outbox item (lib/events), written in the same transaction when given. */
  outboxItem?: Record<string, unknown> | undefined;
}

export type ConsumeOutcome = 'consumed' | 'token_rejected';

const tokenKey = (selector: string) => ({ [TOKEN_TABLE.partitionKey]: `token#${selector}` });
const activeKey = (userId: string) => ({ [TOKEN_TABLE.partitionKey]: `active#${userId}` });
const CONFLICT_RETRIES = 5;
type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

export class TokenStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tokenTable: string,
    private readonly usersTable: string,
  ) {}

  /** Stores a new token and makes it the only usable one for the user, in one transaction. */
  async saveActive(token: StoredToken, createdAt: number): Promise<void> {
    const ttl = Math.ceil(token.expiresAt / 1000);
    const outcome = await this.transact([
      {
        Put: {
          TableName: this.tokenTable,
          Item: {
            ...tokenKey(token.selector),
            userId: token.userId,
            verifierHash: token.verifierHash,
            expiresAt: token.expiresAt,
            createdAt,
            [TOKEN_TABLE.ttlAttribute]: ttl,
          },
          // A selector collision is astronomically unlikely; never overwrite one anyway.
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': TOKEN_TABLE.partitionKey },
        },
      },
      {
        Put: {
          TableName: this.tokenTable,
          Item: { ...activeKey(token.userId), selector: token.selector, [TOKEN_TABLE.ttlAttribute]: ttl },
        },
      },
    ]);
    if (outcome === 'condition_failed') throw new Error('Token selector collision');
  }

  /** Strongly consistent read of a token, its user's active pointer and the user's email. */
  async findCandidate(selector: string): Promise<TokenCandidate | null> {
    const found = await dynamoCall(() =>
      this.client.send(
        new GetCommand({ TableName: this.tokenTable, Key: tokenKey(selector), ConsistentRead: true }),
      ),
    );
    const item = found.Item;
    if (!item || typeof item.userId !== 'string' || typeof item.verifierHash !== 'string') return null;
    const token: StoredToken = {
      selector,
      userId: item.userId,
      verifierHash: item.verifierHash,
      expiresAt: Number(item.expiresAt),
    };
    const related = await dynamoCall(() =>
      this.client.send(
        new BatchGetCommand({
          RequestItems: {
            [this.tokenTable]: { Keys: [activeKey(token.userId)], ConsistentRead: true },
            [this.usersTable]: {
              Keys: [{ [USERS_TABLE.partitionKey]: token.userId }],
              ConsistentRead: true,
              ProjectionExpression: '#email, credentialVersion',
              ExpressionAttributeNames: { '#email': USERS_TABLE.emailAttribute },
            },
          },
        }),
      ),
    );
    // Under throttling DynamoDB may leave keys unprocessed; a missing pointer must not read as
    // "superseded", so this is an outage (503), not an invalid token.
    if (Object.keys(related.UnprocessedKeys ?? {}).length > 0)
      throw new DependencyUnavailableError('DynamoDB');
    const pointer = related.Responses?.[this.tokenTable]?.[0];
    const user = related.Responses?.[this.usersTable]?.[0];
    const email = user?.[USERS_TABLE.emailAttribute];
    return {
      token,
      isActive: pointer?.selector === selector,
      userEmail: typeof email === 'string' ? email : undefined,
      credentialVersion: Number(user?.credentialVersion ?? 0),
    };
  }

  /**
   * Consumes the token and sets the new password in ONE transaction: both happen or neither.
   * The conditions re-check everything the caller checked, so a concurrent confirm, a newer
   * request or the clock passing expiry in between all make the whole write fail.
   */
  async consumeAndChangePassword(change: PasswordChange): Promise<ConsumeOutcome> {
    const { token, passwordHash, changedAt, credentialVersion } = change;
    // Credential binding: the version read with the candidate must still hold, so the version
    // after the ADD (and in the PasswordChanged event) is exactly credentialVersion + 1.
    const versionUnchanged =
      credentialVersion === 0
        ? '(attribute_not_exists(credentialVersion) OR credentialVersion = :version)'
        : 'credentialVersion = :version';
    const outcome = await this.transact([
      {
        Delete: {
          TableName: this.tokenTable,
          Key: tokenKey(token.selector),
          ConditionExpression: 'verifierHash = :verifierHash AND expiresAt > :now',
          ExpressionAttributeValues: { ':verifierHash': token.verifierHash, ':now': changedAt },
        },
      },
      {
        Delete: {
          TableName: this.tokenTable,
          Key: activeKey(token.userId),
          ConditionExpression: 'selector = :selector',
          ExpressionAttributeValues: { ':selector': token.selector },
        },
      },
      {
        Update: {
          TableName: this.usersTable,
          Key: { [USERS_TABLE.partitionKey]: token.userId },
          UpdateExpression: 'SET passwordHash = :hash, passwordChangedAt = :at ADD credentialVersion :one',
          ConditionExpression: `attribute_exists(#userId) AND ${versionUnchanged}`,
          ExpressionAttributeNames: { '#userId': USERS_TABLE.partitionKey },
          ExpressionAttributeValues: {
            ':hash': passwordHash,
            ':at': new Date(changedAt).toISOString(),
            ':one': 1,
            ':version': credentialVersion,
          },
        },
      },
      ...(change.outboxItem ? [outboxPut(this.tokenTable, change.outboxItem)] : []),
    ]);
    return outcome === 'committed' ? 'consumed' : 'token_rejected';
  }

  /**
   * One TransactWriteItems, made safe to retry:
   * - a ClientRequestToken makes every retry idempotent, so an attempt that committed but whose
   *   answer was lost (a timeout) reads as committed on retry, not as a failed condition;
   * - a TransactionConflict (another transaction held an item) is retried with backoff, after
   *   which the other transaction has either taken the item (our condition fails) or not.
   */
  private async transact(items: TransactItems): Promise<'committed' | 'condition_failed'> {
    const command = new TransactWriteCommand({ TransactItems: items, ClientRequestToken: randomUUID() });
    for (let attempt = 1; ; attempt++) {
      try {
        await dynamoCall(() => this.client.send(command));
        return 'committed';
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        if (reasons.some((reason) => reason.Code === 'ConditionalCheckFailed')) return 'condition_failed';
        const conflict = reasons.some((reason) => reason.Code === 'TransactionConflict');
        if (!conflict) throw error;
        if (attempt > CONFLICT_RETRIES) throw new DependencyUnavailableError('DynamoDB', { cause: error });
        await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt * (0.5 + Math.random())));
      }
    }
  }
}
