import { Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { USERS_TABLE } from '../lib/table-schema';
import type { ServiceData } from './data';
import type { KillSwitchParameter } from './kill-switch';
import type { ServiceSecrets } from './secrets';
import type { BuiltFunction, UsersAccess } from './service-functions';

/** A condition that limits a statement to the items whose partition key starts with one of `prefixes`. */
export function leadingKeys(prefixes: readonly string[]) {
  return { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((prefix) => `${prefix}*`) } };
}

/** Actions on the token-table items of the kinds named by their key prefixes. */
function tokenItemsStatement(
  table: ITable,
  grant: { sid: string; actions: readonly string[]; prefixes: readonly string[] },
): PolicyStatement {
  return new PolicyStatement({
    sid: grant.sid,
    actions: [...grant.actions],
    resources: [table.tableArn],
    conditions: leadingKeys(grant.prefixes),
  });
}

/**
 * What the reset's update may name: the password fields it sets, and the email and version its
 * condition checks (the token is bound to both). The condition reads `email`; it never sets it.
 */
const PASSWORD_ATTRIBUTES = [
  USERS_TABLE.partitionKey,
  USERS_TABLE.emailAttribute,
  'passwordHash',
  'passwordChangedAt',
  'credentialVersion',
];
/** The index Query reads the id and the address; the user reads add the credential version a token binds to. */
const INDEX_ATTRIBUTES = [USERS_TABLE.partitionKey, USERS_TABLE.emailAttribute];
const READABLE_USER_ATTRIBUTES = [USERS_TABLE.partitionKey, USERS_TABLE.emailAttribute, 'credentialVersion'];

/** One statement per users-table access, on the table or its email index. */
function usersStatement(access: UsersAccess, table: ITable, emailIndexName: string): PolicyStatement {
  const readUsers = (sid: string, action: string) =>
    new PolicyStatement({
      sid,
      actions: [action],
      resources: [table.tableArn],
      conditions: {
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': READABLE_USER_ATTRIBUTES },
        StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
      },
    });
  switch (access) {
    case 'queryByEmail':
      return new PolicyStatement({
        sid: 'QueryUsersByEmail',
        actions: ['dynamodb:Query'],
        resources: [`${table.tableArn}/index/${emailIndexName}`],
        // The Query names its attributes (lib/users/user-store.ts): an index that projects
        // more (an imported table) still yields only the id and the email.
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': INDEX_ATTRIBUTES },
          StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        },
      });
    // A token binds to the user's current address and credential version, read consistently.
    case 'readBinding':
      return readUsers('ReadUserBinding', 'dynamodb:GetItem');
    case 'readEmail':
      return readUsers('ReadUserEmail', 'dynamodb:BatchGetItem');
    case 'updatePassword':
      return new PolicyStatement({
        sid: 'UpdatePasswordFieldsOnly',
        actions: ['dynamodb:UpdateItem'],
        resources: [table.tableArn],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': PASSWORD_ATTRIBUTES },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE', 'UPDATED_OLD', 'UPDATED_NEW'] },
        },
      });
  }
}

export interface ServicePermissionsProps {
  functions: BuiltFunction[];
  data: ServiceData;
  killSwitch: KillSwitchParameter;
  secrets: ServiceSecrets;
}

/**
 * Least privilege for the functions of the table, from each row's grants, with no wildcard
 * actions or data resources: token-table items by key prefix, users-table reads and writes by
 * attribute, the imported table's key through DynamoDB only, the kill-switch and the secrets.
 * It holds no resources: the statements go to each function's own role.
 */
export class ServicePermissions extends Construct {
  constructor(scope: Construct, id: string, props: ServicePermissionsProps) {
    super(scope, id);
    const { tokenTable, usersTable, emailIndexName, usersTableKeyArn } = props.data;
    const stack = Stack.of(this);
    // DynamoDB uses an imported table's customer-managed key on the caller's behalf.
    const viaDynamoDb = { StringEquals: { 'kms:ViaService': `dynamodb.${stack.region}.${stack.urlSuffix}` } };

    for (const { spec, fn } of props.functions) {
      for (const grant of spec.tokenItems) fn.addToRolePolicy(tokenItemsStatement(tokenTable, grant));
      for (const access of spec.users) fn.addToRolePolicy(usersStatement(access, usersTable, emailIndexName));
      if (usersTableKeyArn && spec.users.length > 0) {
        const writes = spec.users.includes('updatePassword');
        fn.addToRolePolicy(
          new PolicyStatement({
            sid: writes ? 'DecryptAndEncryptUsersTable' : 'DecryptUsersTable',
            actions: writes
              ? ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey']
              : ['kms:Decrypt', 'kms:DescribeKey'],
            resources: [usersTableKeyArn],
            conditions: viaDynamoDb,
          }),
        );
      }
      fn.addToRolePolicy(
        new PolicyStatement({
          sid: 'ReadKillSwitch',
          actions: ['ssm:GetParameter'],
          resources: [props.killSwitch.parameter.parameterArn],
        }),
      );
      // The parameter exists before a function can first read it.
      fn.node.addDependency(props.killSwitch);
      props.secrets.grantRead(fn);
    }
  }
}
