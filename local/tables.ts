import { CreateTableCommand, type DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { TOKEN_TABLE, USERS_TABLE } from '../lib/table-schema';

export interface TableNames {
  tokenTable: string;
  usersTable: string;
  emailIndex: string;
  /** A NEW_IMAGE stream on the token table, as the stack adds when PasswordChanged events are on. */
  tokenStream?: boolean;
}

/** Creates the two tables as the CDK stack defines them (same keys, GSI and TTL attribute). */
export async function createTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: names.tokenTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: TOKEN_TABLE.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: TOKEN_TABLE.partitionKey, KeyType: 'HASH' }],
      ...(names.tokenStream
        ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' } }
        : {}),
    }),
  );
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: names.tokenTable,
      TimeToLiveSpecification: { AttributeName: TOKEN_TABLE.ttlAttribute, Enabled: true },
    }),
  );
  await client.send(
    new CreateTableCommand({
      TableName: names.usersTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: USERS_TABLE.partitionKey, AttributeType: 'S' },
        { AttributeName: USERS_TABLE.emailAttribute, AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: USERS_TABLE.partitionKey, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: names.emailIndex,
          KeySchema: [{ AttributeName: USERS_TABLE.emailAttribute, KeyType: 'HASH' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    }),
  );
}
