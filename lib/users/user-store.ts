import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoCall } from '../dynamo-errors';
import { USERS_TABLE } from '../table-schema';

export interface UserAccount {
  userId: string;
  /** The address stored on the record. Mail goes here, never to the string the client typed. */
  email: string;
}

/** Reads users by email through the GSI. Password writes happen in TokenStore's transaction. */
export class UserStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly emailIndexName: string,
  ) {}

  async findByEmail(normalizedEmail: string): Promise<UserAccount | null> {
    const result = await dynamoCall(() =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: this.emailIndexName,
          KeyConditionExpression: '#email = :email',
          // Only the two attributes the IAM policy allows (dynamodb:Attributes), whatever the index projects.
          Select: 'SPECIFIC_ATTRIBUTES',
          ProjectionExpression: '#userId, #email',
          ExpressionAttributeNames: {
            '#email': USERS_TABLE.emailAttribute,
            '#userId': USERS_TABLE.partitionKey,
          },
          ExpressionAttributeValues: { ':email': normalizedEmail },
          Limit: 1,
        }),
      ),
    );
    const item = result.Items?.[0];
    const userId = item?.[USERS_TABLE.partitionKey];
    const email = item?.[USERS_TABLE.emailAttribute];
    if (typeof userId !== 'string' || typeof email !== 'string') return null;
    return { userId, email };
  }

  /**
   * The current address and credentialVersion, read consistently: a reset token is bound to
   * both, so a later email or password change made elsewhere invalidates it.
   */
  async readBinding(
    userId: string,
    signal?: AbortSignal,
  ): Promise<{ email: string; credentialVersion: number } | null> {
    const result = await dynamoCall(() =>
      this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { [USERS_TABLE.partitionKey]: userId },
          ConsistentRead: true,
          ProjectionExpression: '#email, credentialVersion',
          ExpressionAttributeNames: { '#email': USERS_TABLE.emailAttribute },
        }),
        signal ? { abortSignal: signal } : {},
      ),
    );
    const email = result.Item?.[USERS_TABLE.emailAttribute];
    if (typeof email !== 'string') return null;
    return { email, credentialVersion: Number(result.Item?.credentialVersion ?? 0) };
  }
}
