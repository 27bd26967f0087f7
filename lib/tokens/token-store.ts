import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { classifyDynamoError, dynamoCall } from '../dynamo-errors';
import { DependencyUnavailableError } from '../errors';
import { outboxPut } from '../events/password-changed';
import { TOKEN_TABLE, USERS_TABLE } from '../table-schema';

/**
 * DynamoDB reads and writes for reset tokens. The token table holds:
 * - `token#<selector>`: userId, verifierHash, expiresAt (ms), ttl (s), the credentials it is
 *   bound to (emailKey, credentialVersion) and, while a confirm works on it, a claim
 *   (claimOwner, claimExpiresAt);
 * - `flow#<flowKey>`: a code flow (lib/codes), the same fields with the code's HMAC as
 *   verifierHash, plus the attempts charged so far;
 * - `active#<userId>`: the one credential that may still be used: a token's selector, or
 *   `flow#<flowKey>` for a code flow (a selector never holds a `#`).
 * A new request of either method moves the `active` pointer, which invalidates every older link
 * and code at once. Claims and the consuming transaction are the same for both kinds.
 */
export type CredentialKind = 'token' | 'flow';

export interface StoredToken {
  /** Absent for a link token; 'flow' for a code flow, whose `selector` is its flowKey. */
  kind?: CredentialKind;
  selector: string;
  userId: string;
  verifierHash: string;
  expiresAt: number;
  /** pseudonymize('account', email) of the address the link was sent to. */
  emailKey: string;
  /** The user's credentialVersion when the link was issued. */
  credentialVersion: number;
  /** The reset job that issued it: a retry of that job may replace it (a code's flowId is fixed). */
  jobId?: string;
}

export interface TokenCandidate {
  token: StoredToken;
  /** True when this token is still the user's newest one. */
  isActive: boolean;
  /** The address stored on the user record, or undefined if the user is gone. */
  userEmail: string | undefined;
  /** The user's credentialVersion now (absent counts as 0). */
  credentialVersion: number;
}

export interface PasswordChange {
  token: StoredToken;
  /** The address read with the candidate: the update requires it unchanged. */
  userEmail: string;
  /** The claim this confirm holds: the token can only be consumed by its owner. */
  claimOwner: string;
  passwordHash: string;
  changedAt: number;
  /** Epoch ms by which the write must have finished; it is not started when that cannot hold. */
  deadline?: number;
  /** A PasswordChanged outbox item (lib/events), written in the same transaction when given. */
  outboxItem?: Record<string, unknown> | undefined;
}

export interface Claim {
  kind?: CredentialKind;
  selector: string;
  verifierHash: string;
  owner: string;
  now: number;
  /** Epoch ms at which the claim lapses by itself, so a confirm that died frees the token. */
  until: number;
}

export type ConsumeOutcome = 'consumed' | 'token_rejected';

/** The item key of a token or code flow. */
export const credentialKey = (selector: string, kind: CredentialKind = 'token') => ({
  [TOKEN_TABLE.partitionKey]: `${kind}#${selector}`,
});
/** What `active#<userId>` holds while this credential is the user's newest. */
export const pointerValue = (selector: string, kind: CredentialKind = 'token') =>
  kind === 'token' ? selector : `${kind}#${selector}`;
const activeKey = (userId: string) => ({ [TOKEN_TABLE.partitionKey]: `active#${userId}` });
const CONFLICT_RETRIES = 5;
/**
 * A consuming write is only started when this much time is left before the deadline: one full
 * attempt (the client's 2 s request timeout) before its abort, then the settling
 * (SETTLE_BUDGET_MS), which makes sure an attempt cut short cannot commit after the 503.
 */
export const TRANSACTION_BUDGET_MS = 4_500;
/**
 * Kept back from the deadline to settle a consuming write whose outcome is unknown: one fence
 * attempt (the client's 2 s request timeout) and a read. The write's attempts are aborted there.
 */
export const SETTLE_BUDGET_MS = 2_500;
/** The settled answer must beat the early-timeout 503, which goes out at the deadline. */
const SETTLE_MARGIN_MS = 100;
const SETTLE_ATTEMPTS_WITHOUT_DEADLINE = 5;
type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

export class TokenStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tokenTable: string,
    private readonly usersTable: string,
  ) {}

  /**
   * Stores a new token or code flow and makes it the only usable credential for the user, in one
   * transaction.
   */
  async saveActive(token: StoredToken, createdAt: number, signal?: AbortSignal): Promise<void> {
    const ttl = Math.ceil(token.expiresAt / 1000);
    const outcome = await this.transact(
      [
        {
          Put: {
            TableName: this.tokenTable,
            Item: {
              ...credentialKey(token.selector, token.kind),
              userId: token.userId,
              verifierHash: token.verifierHash,
              expiresAt: token.expiresAt,
              emailKey: token.emailKey,
              credentialVersion: token.credentialVersion,
              createdAt,
              ...(token.jobId ? { jobId: token.jobId } : {}),
              [TOKEN_TABLE.ttlAttribute]: ttl,
            },
            // A selector collision is astronomically unlikely; never overwrite one anyway, except
            // what an earlier attempt of the same job stored (its flow never reached anyone).
            ConditionExpression: token.jobId
              ? 'attribute_not_exists(#pk) OR jobId = :jobId'
              : 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': TOKEN_TABLE.partitionKey },
            ...(token.jobId ? { ExpressionAttributeValues: { ':jobId': token.jobId } } : {}),
          },
        },
        {
          Put: {
            TableName: this.tokenTable,
            Item: {
              ...activeKey(token.userId),
              selector: pointerValue(token.selector, token.kind),
              [TOKEN_TABLE.ttlAttribute]: ttl,
            },
          },
        },
      ],
      Number.POSITIVE_INFINITY,
      signal,
    );
    if (outcome === 'condition_failed') throw new Error('Token selector collision');
  }

  /** Strongly consistent read of a token, its user's active pointer and the user's email. */
  async findCandidate(selector: string): Promise<TokenCandidate | null> {
    const found = await dynamoCall(() =>
      this.client.send(
        new GetCommand({ TableName: this.tokenTable, Key: credentialKey(selector), ConsistentRead: true }),
      ),
    );
    const item = found.Item;
    if (!item || typeof item.userId !== 'string' || typeof item.verifierHash !== 'string') return null;
    // A token without its binding (issued before binding existed) cannot be checked: not usable.
    if (typeof item.emailKey !== 'string' || typeof item.credentialVersion !== 'number') return null;
    const token: StoredToken = {
      selector,
      userId: item.userId,
      verifierHash: item.verifierHash,
      expiresAt: Number(item.expiresAt),
      emailKey: item.emailKey,
      credentialVersion: item.credentialVersion,
    };
    return this.readCandidate(token);
  }

  /** The user's active pointer and current email and credentialVersion, read consistently. */
  async readCandidate(token: StoredToken): Promise<TokenCandidate> {
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
      isActive: pointer?.selector === pointerValue(token.selector, token.kind),
      userEmail: typeof email === 'string' ? email : undefined,
      credentialVersion: Number(user?.credentialVersion ?? 0),
    };
  }

  /**
   * Takes the token for one confirm, before any bcrypt work, so concurrent confirms of one
   * token cost one hash: the first caller gets the claim, every other caller is refused at
   * once. The claim lapses by itself at `until`, so a confirm that died never locks the token.
   */
  async claim(claim: Claim): Promise<boolean> {
    try {
      await dynamoCall(() =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tokenTable,
            Key: credentialKey(claim.selector, claim.kind),
            UpdateExpression: 'SET claimOwner = :owner, claimExpiresAt = :until',
            ConditionExpression:
              'verifierHash = :verifierHash AND expiresAt > :now AND ' +
              '(attribute_not_exists(claimOwner) OR claimExpiresAt <= :now)',
            ExpressionAttributeValues: {
              ':owner': claim.owner,
              ':until': claim.until,
              ':verifierHash': claim.verifierHash,
              ':now': claim.now,
            },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Gives a claim back after a failure, so the user's retry is not refused. Best-effort. */
  async release(selector: string, owner: string, kind?: CredentialKind): Promise<void> {
    await dynamoCall(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tokenTable,
          Key: credentialKey(selector, kind),
          UpdateExpression: 'REMOVE claimOwner, claimExpiresAt',
          ConditionExpression: 'claimOwner = :owner',
          ExpressionAttributeValues: { ':owner': owner },
        }),
      ),
    ).catch(() => undefined);
  }

  /**
   * Consumes the token and sets the new password in ONE transaction: both happen or neither.
   * The conditions re-check everything the caller checked, so a concurrent confirm, a newer
   * request, the clock passing expiry, a lost claim, or an email or password change made
   * elsewhere in between all make the whole write fail.
   */
  async consumeAndChangePassword(change: PasswordChange): Promise<ConsumeOutcome> {
    const { token, passwordHash, changedAt } = change;
    // Credential binding: the version the link was issued for must still hold, so the version
    // after the ADD is exactly token.credentialVersion + 1; and the address must be the one read.
    const versionUnchanged =
      token.credentialVersion === 0
        ? '(attribute_not_exists(credentialVersion) OR credentialVersion = :version)'
        : 'credentialVersion = :version';
    const outcome = await this.transactOrSettle(
      [
        {
          Delete: {
            TableName: this.tokenTable,
            Key: credentialKey(token.selector, token.kind),
            ConditionExpression: 'verifierHash = :verifierHash AND expiresAt > :now AND claimOwner = :owner',
            ExpressionAttributeValues: {
              ':verifierHash': token.verifierHash,
              ':now': changedAt,
              ':owner': change.claimOwner,
            },
          },
        },
        {
          Delete: {
            TableName: this.tokenTable,
            Key: activeKey(token.userId),
            ConditionExpression: 'selector = :selector',
            ExpressionAttributeValues: { ':selector': pointerValue(token.selector, token.kind) },
          },
        },
        {
          Update: {
            TableName: this.usersTable,
            Key: { [USERS_TABLE.partitionKey]: token.userId },
            UpdateExpression: 'SET passwordHash = :hash, passwordChangedAt = :at ADD credentialVersion :one',
            ConditionExpression: `attribute_exists(#userId) AND #email = :email AND ${versionUnchanged}`,
            ExpressionAttributeNames: {
              '#userId': USERS_TABLE.partitionKey,
              '#email': USERS_TABLE.emailAttribute,
            },
            ExpressionAttributeValues: {
              ':hash': passwordHash,
              ':at': new Date(changedAt).toISOString(),
              ':one': 1,
              ':email': change.userEmail,
              ':version': token.credentialVersion,
            },
          },
        },
        ...(change.outboxItem ? [outboxPut(this.tokenTable, change.outboxItem)] : []),
      ],
      change,
    );
    return outcome === 'committed' ? 'consumed' : 'token_rejected';
  }

  /**
   * The consuming write, so that its answer matches its outcome. Its attempts are aborted
   * SETTLE_BUDGET_MS before the deadline; but a timeout or an abort does not recall a request
   * already sent, which may still reach DynamoDB and commit after a 503. So a failure after the
   * write was sent is settled first: the write either committed (and this returns so) or can
   * no longer commit. Only if DynamoDB answers neither the write nor the settling in time is the
   * outcome unknown, and a 503 may then precede a commit.
   */
  private async transactOrSettle(
    items: TransactItems,
    change: PasswordChange,
  ): Promise<'committed' | 'condition_failed'> {
    const deadline = change.deadline ?? Number.POSITIVE_INFINITY;
    const abortAt = (at: number) =>
      Number.isFinite(at) ? AbortSignal.timeout(Math.max(1, at - Date.now())) : undefined;
    let sent = false;
    try {
      return await this.transact(items, deadline, abortAt(deadline - SETTLE_BUDGET_MS), () => {
        sent = true;
      });
    } catch (error) {
      if (!sent) throw error;
      const settled = await this.settleConsume(change, abortAt(deadline - SETTLE_MARGIN_MS)).catch(
        () => 'unknown' as const,
      );
      if (settled === 'consumed') return 'committed';
      throw error;
    }
  }

  /**
   * Takes the claim back after a consuming write failed without a definite answer, which fences
   * off any attempt still on its way (the write requires `claimOwner = owner`). If the claim is
   * no longer ours, our write committed exactly when the token is gone (only the claim's owner
   * deletes it, and the claim is ours until the deadline) and the user's version moved past the
   * token's. Both reads are ones the confirm function may already make (infra: least privilege).
   */
  private async settleConsume(
    change: PasswordChange,
    signal: AbortSignal | undefined,
  ): Promise<'consumed' | 'not_consumed'> {
    const options = signal ? { abortSignal: signal } : {};
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tokenTable,
            Key: credentialKey(change.token.selector, change.token.kind),
            UpdateExpression: 'REMOVE claimOwner, claimExpiresAt',
            ConditionExpression: 'claimOwner = :owner',
            ExpressionAttributeValues: { ':owner': change.claimOwner },
          }),
          options,
        );
        return 'not_consumed';
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) break;
        // A conflict means our own write is being applied; an outage may end before the deadline.
        // Either way a definite answer is worth another try while time is left.
        const retryable = classifyDynamoError(error) instanceof DependencyUnavailableError;
        if (!retryable || signal?.aborted || (!signal && attempt >= SETTLE_ATTEMPTS_WITHOUT_DEADLINE))
          throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(500, 20 * 2 ** attempt)));
      }
    }
    const [token, user] = await Promise.all([
      this.client.send(
        new GetCommand({
          TableName: this.tokenTable,
          Key: credentialKey(change.token.selector, change.token.kind),
          ConsistentRead: true,
        }),
        options,
      ),
      this.client.send(
        new BatchGetCommand({
          RequestItems: {
            [this.usersTable]: {
              Keys: [{ [USERS_TABLE.partitionKey]: change.token.userId }],
              ConsistentRead: true,
              ProjectionExpression: 'credentialVersion',
            },
          },
        }),
        options,
      ),
    ]);
    if (Object.keys(user.UnprocessedKeys ?? {}).length > 0) throw new DependencyUnavailableError('DynamoDB');
    const version = Number(user.Responses?.[this.usersTable]?.[0]?.credentialVersion ?? 0);
    return !token.Item && version > change.token.credentialVersion ? 'consumed' : 'not_consumed';
  }

  /**
   * One TransactWriteItems, made safe to retry:
   * - a ClientRequestToken makes every retry idempotent, so an attempt that committed but whose
   *   answer was lost (a timeout) reads as committed on retry, not as a failed condition;
   * - a TransactionConflict (another transaction held an item) is retried with backoff, after
   *   which the other transaction has either taken the item (our condition fails) or not.
   * - with a deadline, no attempt starts unless it can finish before it (TRANSACTION_BUDGET_MS);
   *   a conflict-cancelled attempt did not commit, so stopping between attempts is safe.
   */
  private async transact(
    items: TransactItems,
    deadline = Number.POSITIVE_INFINITY,
    signal?: AbortSignal,
    onSend?: () => void,
  ): Promise<'committed' | 'condition_failed'> {
    const command = new TransactWriteCommand({ TransactItems: items, ClientRequestToken: randomUUID() });
    for (let attempt = 1; ; attempt++) {
      if (deadline - Date.now() < TRANSACTION_BUDGET_MS)
        throw new DependencyUnavailableError('DynamoDB (no time left for the write)');
      try {
        onSend?.();
        await this.client.send(command, signal ? { abortSignal: signal } : {});
        return 'committed';
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw classifyDynamoError(error);
        const reasons = error.CancellationReasons ?? [];
        if (reasons.some((reason) => reason.Code === 'ConditionalCheckFailed')) return 'condition_failed';
        const conflict = reasons.some((reason) => reason.Code === 'TransactionConflict');
        // Throttling and other "try again" cancellations become a 503 with Retry-After.
        if (!conflict || attempt > CONFLICT_RETRIES) throw classifyDynamoError(error);
        await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt * (0.5 + Math.random())));
      }
    }
  }
}
