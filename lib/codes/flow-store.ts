import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoCall } from '../dynamo-errors';
import { TOKEN_TABLE } from '../table-schema';
import { credentialKey, type StoredToken } from '../tokens/token-store';

/**
 * The code-flow items of the token table (`flow#<flowKey>`) that are not shared with links:
 * the phantom flow, and the attempt charge. A real flow is written with TokenStore.saveActive
 * (kind 'flow'), so it moves the user's `active#` pointer; claims and the consuming transaction
 * are TokenStore's too.
 */
export interface ChargedFlow {
  /** The flow as a credential; absent for a phantom flow (no account behind it). */
  credential: StoredToken | undefined;
  /** The code HMAC stored (random for a phantom flow). */
  codeHash: string;
  /** pseudonymize('account', email) of the address typed in the request. */
  emailKey: string;
  /** Attempts charged so far, this one included. */
  attempts: number;
}

export type ChargeRefusal = 'unknown_flow' | 'expired' | 'budget_exhausted';

export interface PhantomFlow {
  flowKey: string;
  codeHash: string;
  emailKey: string;
  expiresAt: number;
}

export class FlowStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tokenTable: string,
  ) {}

  /**
   * A flow that no code was emailed for (an unknown address, a silent limit, the kill-switch):
   * the same item a real flow has, minus the account, so confirm does the same work on it. It
   * moves no pointer, so it never supersedes anyone's link or code.
   */
  async savePhantom(flow: PhantomFlow, createdAt: number, signal?: AbortSignal): Promise<void> {
    await dynamoCall(() =>
      this.client.send(
        new PutCommand({
          TableName: this.tokenTable,
          Item: {
            ...credentialKey(flow.flowKey, 'flow'),
            verifierHash: flow.codeHash,
            expiresAt: flow.expiresAt,
            emailKey: flow.emailKey,
            createdAt,
            [TOKEN_TABLE.ttlAttribute]: Math.ceil(flow.expiresAt / 1000),
          },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': TOKEN_TABLE.partitionKey },
        }),
        signal ? { abortSignal: signal } : {},
      ),
    );
  }

  /**
   * Charges one attempt BEFORE the code is compared: a conditional UpdateItem that succeeds only
   * while the flow exists, has not expired and has attempts left. DynamoDB serializes updates of
   * one item, so N concurrent guesses are N charges and at most `maxAttempts` ever get a flow to
   * compare against. Returns the flow as it is after the charge.
   */
  async chargeAttempt(
    flowKey: string,
    maxAttempts: number,
    now: number,
  ): Promise<ChargedFlow | ChargeRefusal> {
    try {
      const updated = await dynamoCall(() =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tokenTable,
            Key: credentialKey(flowKey, 'flow'),
            UpdateExpression: 'SET attempts = if_not_exists(attempts, :zero) + :one',
            // attribute_exists: an UpdateItem would otherwise create a consumed or unknown flow.
            ConditionExpression:
              'attribute_exists(#pk) AND expiresAt > :now AND (attribute_not_exists(attempts) OR attempts < :max)',
            ExpressionAttributeNames: { '#pk': TOKEN_TABLE.partitionKey },
            ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':now': now, ':max': maxAttempts },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return toChargedFlow(flowKey, updated.Attributes ?? {});
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return this.refusalReason(flowKey, now);
    }
  }

  /**
   * Gives an attempt back when the right code was presented and the confirm then failed for a
   * reason that is not the code (a password the policy refused with the account's address in
   * view). Only a right code gets here, so this can never buy a guess.
   */
  async refundAttempt(flowKey: string): Promise<void> {
    await dynamoCall(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tokenTable,
          Key: credentialKey(flowKey, 'flow'),
          UpdateExpression: 'SET attempts = attempts - :one',
          ConditionExpression: 'attempts > :zero',
          ExpressionAttributeValues: { ':zero': 0, ':one': 1 },
        }),
      ),
    ).catch((error: unknown) => {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    });
  }

  /** The attempts a flow has recorded (tests and the stress suite). */
  async attempts(flowKey: string): Promise<number | undefined> {
    const found = await this.read(flowKey);
    return found.Item ? Number(found.Item.attempts ?? 0) : undefined;
  }

  private read(flowKey: string) {
    return dynamoCall(() =>
      this.client.send(
        new GetCommand({
          TableName: this.tokenTable,
          Key: credentialKey(flowKey, 'flow'),
          ConsistentRead: true,
        }),
      ),
    );
  }

  /** Why a charge was refused, for the audit line only: the answer is the same for all three. */
  private async refusalReason(flowKey: string, now: number): Promise<ChargeRefusal> {
    const found = await this.read(flowKey);
    if (!found.Item) return 'unknown_flow';
    return Number(found.Item.expiresAt) <= now ? 'expired' : 'budget_exhausted';
  }
}

function toChargedFlow(flowKey: string, item: Record<string, unknown>): ChargedFlow {
  const base = {
    codeHash: String(item.verifierHash ?? ''),
    emailKey: String(item.emailKey ?? ''),
    attempts: Number(item.attempts ?? 0),
  };
  const real = typeof item.userId === 'string' && typeof item.credentialVersion === 'number';
  return {
    ...base,
    credential: real
      ? {
          kind: 'flow',
          selector: flowKey,
          userId: item.userId as string,
          verifierHash: base.codeHash,
          expiresAt: Number(item.expiresAt),
          emailKey: base.emailKey,
          credentialVersion: item.credentialVersion as number,
        }
      : undefined,
  };
}
