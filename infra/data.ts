import type { RemovalPolicy } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  type ITable,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TOKEN_TABLE, USERS_TABLE } from '../lib/table-schema';
import type { Settings } from './settings';

export interface ServiceDataProps {
  settings: Settings;
  removalPolicy: RemovalPolicy;
}

/**
 * The two tables: the token table (tokens, code flows, rate-limit counters, outbox and
 * suppression items), and the users table, created or imported by name with its KMS key.
 *
 * The tables are the stack's children, not this construct's: their logical IDs predate it, and a
 * new one would replace a table and its items.
 */
export class ServiceData extends Construct {
  readonly tokenTable: Table;
  readonly usersTable: ITable;
  readonly emailIndexName: string;
  /** The customer-managed key of an imported users table, which DynamoDB uses on the caller's behalf. */
  readonly usersTableKeyArn: string | undefined;

  constructor(scope: Construct, id: string, props: ServiceDataProps) {
    super(scope, id);
    const { settings, removalPolicy } = props;
    // Both tables: on demand, point-in-time recovery, AWS-managed encryption, protected in prod.
    const protectedTable = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      deletionProtection: settings.stage === 'prod',
      removalPolicy,
    };

    // TTL only cleans up; expiry is checked on every read.
    this.tokenTable = new Table(scope, 'TokenTable', {
      partitionKey: { name: TOKEN_TABLE.partitionKey, type: AttributeType.STRING },
      timeToLiveAttribute: TOKEN_TABLE.ttlAttribute,
      ...protectedTable,
      // New outbox items reach the PasswordChanged publisher through this stream.
      ...(settings.passwordChangedEvents ? { stream: StreamViewType.NEW_IMAGE } : {}),
    });

    this.usersTableKeyArn = settings.existingUsersTableKeyArn;
    if (settings.existingUsersTableName) {
      this.emailIndexName = settings.existingUsersEmailIndexName ?? USERS_TABLE.defaultEmailIndexName;
      this.usersTable = Table.fromTableAttributes(scope, 'UsersTable', {
        tableName: settings.existingUsersTableName,
        globalIndexes: [this.emailIndexName],
        ...(this.usersTableKeyArn
          ? { encryptionKey: Key.fromKeyArn(scope, 'UsersTableKey', this.usersTableKeyArn) }
          : {}),
      });
      return;
    }
    const usersTable = new Table(scope, 'UsersTable', {
      partitionKey: { name: USERS_TABLE.partitionKey, type: AttributeType.STRING },
      ...protectedTable,
    });
    usersTable.addGlobalSecondaryIndex({
      indexName: USERS_TABLE.defaultEmailIndexName,
      partitionKey: { name: USERS_TABLE.emailAttribute, type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });
    this.usersTable = usersTable;
    this.emailIndexName = USERS_TABLE.defaultEmailIndexName;
  }
}
