import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app';
import { LOCAL_DEFAULTS } from '../../local/server';
import { functionOf, nagReport as nag, PROD_CONTEXT, synth } from './synth';

const dev = synth();
const { template } = dev;
const prod = synth(PROD_CONTEXT);

type Statement = Record<string, unknown>;
type FunctionId = 'RequestReset' | 'ConfirmReset' | 'ResetWorker';
const statementsOf = (built: typeof dev, fnId: FunctionId): Statement[] => {
  const roleId = built.stack.getLogicalId(functionOf(built.stack, fnId).role?.node.defaultChild as never);
  const policies = Object.values(built.template.findResources('AWS::IAM::Policy')).filter((p) =>
    p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId),
  );
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
};
const bySid = (built: typeof dev, fnId: FunctionId, sid: string) =>
  statementsOf(built, fnId).find((s) => s.Sid === sid);
const functionEnv = (built: typeof dev) =>
  built.template.toJSON().Resources[
    built.stack.getLogicalId(functionOf(built.stack, 'RequestReset').node.defaultChild as never)
  ].Properties.Environment.Variables;

describe('the API', () => {
  it('has the two API functions and the reset worker of its own, two POST routes, and no /__local route', () => {
    // The two API functions, the reset worker, the email sender, and the provider CDK runs for the
    // create-only kill-switch.
    const ours = Object.values(template.findResources('AWS::Lambda::Function')).filter((fn) => {
      const env = fn.Properties.Environment?.Variables ?? {};
      return env.TOKEN_TABLE_NAME && (env.RESET_JOBS_QUEUE_URL || env.EMAIL_QUEUE_URL) && !env.EMAIL_DLQ_URL;
    });
    template.resourceCountIs('AWS::Lambda::Function', 5);
    const routes = template.findResources('AWS::ApiGatewayV2::Route');
    const keys = Object.values(routes)
      .map((r) => r.Properties.RouteKey)
      .sort();

    expect(ours).toHaveLength(3);
    expect(keys).toEqual(['POST /api/auth/password-reset/confirm', 'POST /api/auth/password-reset/request']);
    expect(JSON.stringify(template.toJSON())).not.toContain('__local');
  });

  it('has stage throttling and a JSON access log that tells a gateway error from the function answer', () => {
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0]?.Properties;
    const format = JSON.parse(stage.AccessLogSettings.Format);

    expect(stage.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
      functionStatus: '$context.integration.status',
      errorType: '$context.error.responseType',
      integrationError: '$context.integrationErrorMessage',
    });
    expect(stage.AccessLogSettings.Format).not.toMatch(/body|\$input/i);
  });

  it('routes to the live alias of each function, not to $LATEST', () => {
    const integrations = Object.values(template.findResources('AWS::ApiGatewayV2::Integration'));

    expect(integrations).toHaveLength(2);
    for (const integration of integrations) {
      expect(integration.Properties.IntegrationUri).toEqual({ Ref: expect.stringMatching(/Aliaslive/) });
    }
    template.resourcePropertiesCountIs('AWS::Lambda::Alias', { Name: 'live' }, 2);
  });

  it('allows no CORS origin by default, and exactly the configured ones with Retry-After exposed', () => {
    const api = () => Object.values(template.findResources('AWS::ApiGatewayV2::Api'))[0]?.Properties;
    expect(api().CorsConfiguration).toBeUndefined();

    const withCors = synth({ corsOrigins: 'https://market.example.com' }).template;
    withCors.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({
        AllowOrigins: ['https://market.example.com'],
        AllowMethods: ['POST'],
        ExposeHeaders: ['retry-after'],
      }),
    });
  });

  it.each([
    ['*'],
    ['https://*.example.com'],
    ['http://market.example.com'],
    ['https://market.example.com/path'],
  ])('refuses the CORS origin %s', (origin) => {
    expect(() => synth({ corsOrigins: origin })).toThrowError(/corsOrigins.*https origin/);
  });
});

describe('the functions', () => {
  it('run on the newest Node.js runtime, on ARM64, with their own log groups', () => {
    const functions = [functionOf(dev.stack, 'RequestReset'), functionOf(dev.stack, 'ConfirmReset')].map(
      (fn) => template.toJSON().Resources[dev.stack.getLogicalId(fn.node.defaultChild as never)],
    );

    for (const fn of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
    }
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 14 }, 5);
  });

  it('gives confirm more memory than request, for bcrypt, and a 10 s timeout to both', () => {
    const roleOf = (fn: FunctionId) =>
      dev.stack.getLogicalId(functionOf(dev.stack, fn).role?.node.defaultChild as never);

    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      Timeout: 10,
      Role: { 'Fn::GetAtt': [roleOf('ConfirmReset'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 256,
      Timeout: 10,
      Role: { 'Fn::GetAtt': [roleOf('RequestReset'), 'Arn'] },
    });
  });

  it('wires tables, index, parameter, secret and settings into the environment, never a salt', () => {
    const env = functionEnv(dev);

    expect(Object.keys(env).sort()).toEqual(
      [
        'ACCOUNT_KEY_SECRET_ARN',
        'BCRYPT_COST',
        'KILL_SWITCH_PARAMETER_NAME',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_SERVICE_NAME',
        'REQUEST_RESPONSE_FLOOR_MS',
        'RESET_JOBS_QUEUE_URL',
        'RESET_LINK_TEMPLATE',
        'TOKEN_TABLE_NAME',
        'TOKEN_TTL_MINUTES',
        'USERS_EMAIL_INDEX_NAME',
        'USERS_TABLE_NAME',
      ].sort(),
    );
    expect(env.TOKEN_TABLE_NAME).toEqual({ Ref: expect.stringMatching(/^TokenTable/) });
    expect(env.USERS_TABLE_NAME).toEqual({ Ref: expect.stringMatching(/^UsersTable/) });
    expect(env.ACCOUNT_KEY_SECRET_ARN).toEqual({ Ref: expect.stringMatching(/^AccountKeySecret/) });
    expect(env.KILL_SWITCH_PARAMETER_NAME).toBe('/password-reset/dev/email-kill-switch');
    expect(env.USERS_EMAIL_INDEX_NAME).toBe('email-index');
    expect(env.BCRYPT_COST).toBe('12');
    expect(env.RESET_LINK_TEMPLATE).toContain('{token}');
    expect(JSON.stringify(template.toJSON())).not.toContain('ACCOUNT_KEY_SALT');
  });

  it('passes runtime settings given as context keys to the functions', () => {
    const env = functionEnv(
      synth({
        rateLimitRequestIp: '5/1m,50/1h',
        passwordMinLength: 12,
        passwordCompositionRules: true,
        killSwitchCacheSeconds: '10',
        tokenTtlMinutes: '30',
      }),
    );

    expect(env).toMatchObject({
      RATE_LIMIT_REQUEST_IP: '5/1m,50/1h',
      PASSWORD_MIN_LENGTH: '12',
      PASSWORD_COMPOSITION_RULES: 'true',
      KILL_SWITCH_CACHE_SECONDS: '10',
      TOKEN_TTL_MINUTES: '30',
    });
  });

  it('reserves concurrency in prod by default, from context when given, and not in dev', () => {
    const reserved = (built: typeof dev) =>
      Object.values(built.template.findResources('AWS::Lambda::Function'))
        .map((fn) => fn.Properties.ReservedConcurrentExecutions)
        .filter((value) => value !== undefined)
        .sort();

    expect(reserved(dev)).toEqual([]);
    expect(reserved(prod)).toEqual([50, 50]);
    expect(
      reserved(
        synth({ ...PROD_CONTEXT, requestReservedConcurrency: '20', confirmReservedConcurrency: '40' }),
      ),
    ).toEqual([20, 40]);
  });

  it('turns on X-Ray in prod by default, and in dev only when asked', () => {
    const traced = (built: typeof dev) => JSON.stringify(built.template.toJSON()).includes('"Mode":"Active"');

    expect(traced(dev)).toBe(false);
    expect(traced(prod)).toBe(true);
    expect(traced(synth({ tracing: 'true' }))).toBe(true);
    expect(traced(synth({ ...PROD_CONTEXT, tracing: 'false' }))).toBe(false);
  });
});

describe('the account-key secret', () => {
  it('is generated by Secrets Manager at deploy time and readable only by the two functions', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
    for (const fn of ['RequestReset', 'ConfirmReset'] as const) {
      expect(bySid(dev, fn, 'ReadServiceSecrets')).toMatchObject({
        Action: 'secretsmanager:GetSecretValue',
        Resource: { Ref: expect.stringMatching(/^AccountKeySecret/) },
      });
    }
  });

  it('is readable by every function whose environment names it, whoever added the function', () => {
    type Resource = {
      Type: string;
      Properties: {
        Role: { 'Fn::GetAtt': [string, string] };
        Environment?: { Variables?: Record<string, unknown> };
        Roles: Array<{ Ref?: string }>;
        PolicyDocument: { Statement: unknown[] };
      };
    };
    const resources = prod.template.toJSON().Resources as Record<string, Resource>;
    const readers = Object.entries(resources).filter(
      ([, r]) =>
        r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.ACCOUNT_KEY_SECRET_ARN,
    );

    expect(readers.length).toBeGreaterThanOrEqual(2);
    for (const [, fn] of readers) {
      const roleId = fn.Properties.Role['Fn::GetAtt'][0];
      const statements = Object.values(resources)
        .filter(
          (r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((role) => role.Ref === roleId),
        )
        .flatMap((r) => r.Properties.PolicyDocument.Statement);
      expect(JSON.stringify(statements)).toMatch(
        /"Action":"secretsmanager:GetSecretValue","Effect":"Allow","Resource":(\[)?\{"Ref":"AccountKeySecret/,
      );
    }
  });

  it('is resolved before the config is loaded, in every handler that loads it', () => {
    const handlers = readdirSync(join(import.meta.dirname, '../../functions')).filter((file) =>
      file.endsWith('.ts'),
    );
    const loading = handlers
      .map((file) => readFileSync(join(import.meta.dirname, '../../functions', file), 'utf8'))
      .filter((source) => source.includes('loadConfig('));

    expect(loading.length).toBeGreaterThanOrEqual(2);
    for (const source of loading)
      expect(source).toMatch(/loadConfig\(await resolveSecretSettings\(process\.env\)\)/);
  });

  it('is kept with the stack in prod and deleted with it in dev', () => {
    template.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete' });
    prod.template.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain' });
  });
});

describe('the data', () => {
  it('has a token table with TTL, point-in-time recovery and AWS-managed encryption, on demand', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('creates a users table with an email GSI, protected and retained in prod', () => {
    prod.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        DeletionProtectionEnabled: true,
        GlobalSecondaryIndexes: [
          Match.objectLike({
            IndexName: 'email-index',
            KeySchema: [{ AttributeName: 'email', KeyType: 'HASH' }],
          }),
        ],
      }),
    });
    prod.template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 90 }, 6);
  });

  it('can import an existing users table and index instead of creating one', () => {
    const imported = synth({
      existingUsersTableName: 'marketplace-users',
      existingUsersEmailIndexName: 'by-email',
    });

    imported.template.resourceCountIs('AWS::DynamoDB::Table', 1);
    const policies = JSON.stringify(imported.template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(':table/marketplace-users/index/by-email');
    expect(policies).toContain(':table/marketplace-users"');
    // No key of the users table's to use: the only KMS grants are the reset jobs queue's.
    expect(policies).not.toContain('kms:ViaService');
    const env = functionEnv(imported);
    expect(env.USERS_TABLE_NAME).toBe('marketplace-users');
    expect(env.USERS_EMAIL_INDEX_NAME).toBe('by-email');
  });

  it('grants KMS use through DynamoDB for an imported table with a customer-managed key', () => {
    const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d';
    const built = synth({ existingUsersTableName: 'marketplace-users', existingUsersTableKeyArn: keyArn });
    const viaDynamoDb = {
      StringEquals: {
        'kms:ViaService': {
          'Fn::Join': ['', ['dynamodb.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]],
        },
      },
    };

    expect(bySid(built, 'RequestReset', 'DecryptUsersTable')).toBeUndefined();
    expect(bySid(built, 'ResetWorker', 'DecryptUsersTable')).toMatchObject({
      Action: ['kms:Decrypt', 'kms:DescribeKey'],
      Resource: keyArn,
      Condition: viaDynamoDb,
    });
    expect(bySid(built, 'ConfirmReset', 'DecryptAndEncryptUsersTable')).toMatchObject({
      Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
      Resource: keyArn,
      Condition: viaDynamoDb,
    });
  });
});

describe('the kill-switch parameter', () => {
  const killSwitchOf = (built: typeof dev) => {
    const resources = Object.values(built.template.findResources('Custom::KillSwitchParameter'));
    expect(resources).toHaveLength(1);
    return resources[0] as { Properties: Record<string, unknown>; DeletionPolicy?: string };
  };
  const call = (value: unknown) => JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
  const parse = (value: unknown) => JSON.parse(typeof value === 'string' ? value : JSON.stringify(value));

  it('is created once with its default and never written by an update', () => {
    const { Properties } = killSwitchOf(dev);
    const create = parse(Properties.Create);

    expect(create).toMatchObject({
      service: 'SSM',
      action: 'putParameter',
      parameters: {
        Name: '/password-reset/dev/email-kill-switch',
        Type: 'String',
        Value: '{"enabled":true,"dryRun":false}',
        Overwrite: false,
      },
      ignoreErrorCodesMatching: 'ParameterAlreadyExists',
      physicalResourceId: { id: '/password-reset/dev/email-kill-switch' },
    });
    expect(Properties.Update).toBeUndefined();
    template.resourceCountIs('AWS::SSM::Parameter', 0);
    template.hasOutput('KillSwitchParameterName', { Value: '/password-reset/dev/email-kill-switch' });
  });

  it('is deleted with a dev stack, but outlives a prod stack', () => {
    expect(parse(killSwitchOf(dev).Properties.Delete)).toMatchObject({ action: 'deleteParameter' });
    expect(killSwitchOf(prod).Properties.Delete).toBeUndefined();
  });

  it('is the same resource, unchanged, whatever other context keys change', () => {
    const changed = synth({
      ...PROD_CONTEXT,
      tokenTtlMinutes: '30',
      bcryptCost: '13',
      throttleRateLimit: '200',
      killSwitchCacheSeconds: '5',
      requestResponseFloorMs: '400',
      corsOrigins: 'https://market.example.com',
    });
    const logicalId = (built: typeof dev) =>
      Object.keys(built.template.findResources('Custom::KillSwitchParameter'))[0];

    expect(logicalId(changed)).toBe(logicalId(prod));
    expect(call(killSwitchOf(changed))).toEqual(call(killSwitchOf(prod)));
  });

  it('lets the provider put (and in dev delete) only this parameter', () => {
    const policy = Object.values(prod.template.findResources('AWS::IAM::Policy')).find((p) =>
      JSON.stringify(p).includes('ssm:PutParameter'),
    );

    const statements = policy?.Properties.PolicyDocument.Statement;

    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toBe('ssm:PutParameter');
    expect(JSON.stringify(statements[0].Resource)).toMatch(
      /:parameter\/password-reset\/prod\/email-kill-switch"/,
    );
    const devPolicy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) =>
      JSON.stringify(p).includes('ssm:PutParameter'),
    );
    expect(devPolicy?.Properties.PolicyDocument.Statement[0].Action).toEqual([
      'ssm:PutParameter',
      'ssm:DeleteParameter',
    ]);
  });
});

describe('least privilege', () => {
  it('lets request count requests per IP and hand jobs over, and touch nothing of any account', () => {
    const statements = statementsOf(dev, 'RequestReset');

    expect(bySid(dev, 'RequestReset', 'CountRequests')).toMatchObject({
      Action: 'dynamodb:UpdateItem',
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['rate#*'] } },
    });
    expect(bySid(dev, 'RequestReset', 'SendResetJobs')).toMatchObject({
      Action: 'sqs:SendMessage',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ResetJobsQueue/), 'Arn'] },
    });
    expect(bySid(dev, 'RequestReset', 'SendResetJobsKey')).toMatchObject({
      Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ResetJobsKey/), 'Arn'] },
    });
    const text = JSON.stringify(statements);
    for (const absent of [
      'dynamodb:Query',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'ssm:GetParameter',
      'EmailDeliveryQueue',
    ])
      expect(text).not.toContain(absent);
    expect(text).not.toMatch(/UsersTable/);
  });

  it('lets the worker query the email index for the id and email only, and write only what it needs', () => {
    expect(bySid(dev, 'ResetWorker', 'QueryUsersByEmail')).toMatchObject({
      Action: 'dynamodb:Query',
      Resource: {
        'Fn::Join': [
          '',
          [{ 'Fn::GetAtt': [expect.stringMatching(/^UsersTable/), 'Arn'] }, '/index/email-index'],
        ],
      },
      Condition: {
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['userId', 'email'] },
        StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
      },
    });
    expect(bySid(dev, 'ResetWorker', 'WriteTokens')).toMatchObject({
      Action: 'dynamodb:PutItem',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^TokenTable/), 'Arn'] },
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['token#*', 'active#*', 'flow#*'] } },
    });
    expect(bySid(dev, 'ResetWorker', 'CountRequests')).toMatchObject({
      Action: 'dynamodb:UpdateItem',
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['rate#*'] } },
    });
    expect(bySid(dev, 'ResetWorker', 'IdempotencyRecords')).toMatchObject({
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['reset-job#*'] } },
    });
    const actions = JSON.stringify(
      statementsOf(dev, 'ResetWorker')
        .filter((s) => s.Sid !== 'IdempotencyRecords')
        .map((s) => s.Action),
    );
    for (const action of ['DeleteItem', 'BatchGetItem', 'Scan']) expect(actions).not.toContain(action);
    // Its reads beside the idempotency records: the suppression check, on suppressed# items only,
    // and the consistent read of the user's address and credential version that a token binds to.
    const reads = statementsOf(dev, 'ResetWorker').filter((s) => s.Action === 'dynamodb:GetItem');
    expect(reads).toHaveLength(2);
    expect(JSON.stringify(reads)).toContain('suppressed#*');
    expect(bySid(dev, 'ResetWorker', 'ReadUserBinding')).toMatchObject({
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^UsersTable/), 'Arn'] },
      Condition: {
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['userId', 'email', 'credentialVersion'] },
      },
    });
    expect(bySid(dev, 'ResetWorker', 'DeadLetterResetJobs')).toMatchObject({
      Action: 'sqs:SendMessage',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ResetJobsDeadLetterQueue/), 'Arn'] },
    });
  });

  it('lets confirm read and consume tokens and count attempts, each on its own item kinds', () => {
    const leading = (sid: string) =>
      (bySid(dev, 'ConfirmReset', sid)?.Condition as Record<string, Record<string, unknown>> | undefined)?.[
        'ForAllValues:StringLike'
      ]?.['dynamodb:LeadingKeys'];

    expect(leading('ReadTokens')).toEqual(['token#*', 'flow#*']);
    expect(leading('ClaimTokens')).toEqual(['token#*', 'flow#*']);
    expect(leading('ReadActivePointers')).toEqual(['active#*']);
    expect(leading('ConsumeTokens')).toEqual(['token#*', 'active#*', 'flow#*']);
    expect(leading('CountConfirms')).toEqual(['rate#*']);
    expect(JSON.stringify(statementsOf(dev, 'ConfirmReset'))).not.toContain('dynamodb:PutItem');
  });

  it('lets confirm update only the password fields of users (conditioned on the bound email and version)', () => {
    expect(bySid(dev, 'ConfirmReset', 'UpdatePasswordFieldsOnly')).toMatchObject({
      Action: 'dynamodb:UpdateItem',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^UsersTable/), 'Arn'] },
      Condition: {
        'ForAllValues:StringEquals': {
          'dynamodb:Attributes': [
            'userId',
            'email',
            'passwordHash',
            'passwordChangedAt',
            'credentialVersion',
          ],
        },
      },
    });
    expect(bySid(dev, 'ConfirmReset', 'ReadUserEmail')).toMatchObject({
      Action: 'dynamodb:BatchGetItem',
      Condition: {
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['userId', 'email', 'credentialVersion'] },
      },
    });
  });

  it('lets the functions that make mail read only the kill-switch parameter from SSM', () => {
    for (const fn of ['ResetWorker', 'ConfirmReset'] as const) {
      expect(bySid(dev, fn, 'ReadKillSwitch')).toMatchObject({
        Action: 'ssm:GetParameter',
        Resource: {
          'Fn::Join': ['', expect.arrayContaining([':parameter/password-reset/dev/email-kill-switch'])],
        },
      });
    }
  });

  it('has no wildcard action and no wildcard resource in the functions, and no managed policy on them', () => {
    const ids = ['RequestReset', 'ConfirmReset', 'ResetWorker'] as const;
    const statements = ids.flatMap((id) => statementsOf(prod, id));
    const data = statements.filter((s) => !String(s.Action).startsWith('xray:'));

    expect(data.length).toBeGreaterThan(10);
    for (const statement of statements) {
      expect([statement.Action].flat().some((action) => String(action).includes('*'))).toBe(false);
    }
    for (const statement of data) expect([statement.Resource].flat()).not.toContain('*');
    for (const fn of ids.map((id) => functionOf(prod.stack, id))) {
      const role =
        prod.template.toJSON().Resources[prod.stack.getLogicalId(fn.role?.node.defaultChild as never)];
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('alarms', () => {
  const alarmsOf = (built: typeof dev) =>
    Object.entries(built.template.findResources('AWS::CloudWatch::Alarm')).map(
      ([id, alarm]) => ({ id, ...alarm.Properties }) as Record<string, unknown> & { id: string },
    );
  // The service's own alarms; email delivery's are tested in email-delivery.test.ts.
  const alarmIds = (built: typeof dev) =>
    alarmsOf(built)
      .filter((a) => a.id.startsWith('Monitoring'))
      .map((a) => a.id.replace(/Monitoring|[0-9A-F]{8}$/g, ''));

  it('cover the API, the functions, the tables and index, email, tokens and the service signals', () => {
    expect(alarmIds(prod).sort()).toEqual(
      [
        'Api5xxRate',
        'Api4xxRate',
        'ApiLatencyP99',
        'GatewayThrottled',
        'AppRateLimitSpike',
        'InvalidTokenSpike',
        'EmailProviderFailures',
        'KillSwitchUnavailable',
        'ResponseFloorExceeded',
        'WorkerFunctionErrors',
        'WorkerDurationNearTimeout',
        'WorkerFunctionThrottles',
        'ResetJobsBacklogAge',
        'ResetJobsDeadLetters',
        'ResetJobRetries',
        'ResetJobsExpired',
        'RequestFunctionErrors',
        'RequestDurationNearTimeout',
        'RequestFunctionThrottles',
        'RequestConcurrencyNearReservation',
        'ConfirmFunctionErrors',
        'ConfirmDurationNearTimeout',
        'ConfirmFunctionThrottles',
        'ConfirmConcurrencyNearReservation',
        'TokenTableThrottles',
        'TokenTableSystemErrors',
        'UsersTableThrottles',
        'UsersTableSystemErrors',
        'UsersTableIndexThrottles',
      ].sort(),
    );
    // Without a reservation there is nothing to be near.
    expect(alarmIds(dev).filter((id) => id.includes('Concurrency'))).toEqual([]);
  });

  it('compare each function p99 duration with 80% of its timeout', () => {
    const alarm = alarmsOf(synth({ confirmTimeoutSeconds: '20' })).find((a) =>
      a.id.includes('ConfirmDurationNearTimeout'),
    );

    expect(alarm).toMatchObject({ MetricName: 'Duration', ExtendedStatistic: 'p99', Threshold: 16_000 });
  });

  it('tell gateway 429s from the functions 429s, from the access log', () => {
    const filters = Object.values(template.findResources('AWS::Logs::MetricFilter')).map((f) => f.Properties);

    expect(filters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          FilterPattern: '{ ($.status = "429") && ($.functionStatus = "-") }',
          MetricTransformations: [expect.objectContaining({ MetricName: 'GatewayThrottled' })],
        }),
        expect.objectContaining({
          FilterPattern: '{ $.functionStatus = "429" }',
          MetricTransformations: [expect.objectContaining({ MetricName: 'AppRateLimited' })],
        }),
      ]),
    );
  });

  it('count failed password-changed notices as email failures, and retried reset jobs apart', () => {
    const alarm = alarmsOf(dev).find((a) => a.id.includes('EmailProviderFailures'));
    const metrics = JSON.stringify(alarm?.Metrics);
    const retries = alarmsOf(dev).find((a) => a.id.includes('ResetJobRetries'));

    expect(metrics).toContain('FILL(notices, 0) + FILL(noticeErrors, 0)');
    expect(metrics).toContain('"Value":"provider_error"');
    expect(metrics).toMatch(/"MetricName":"PasswordChangedNotice".*"Value":"error"/);
    // A reset email the worker cannot hand over is retried, not lost: its own alarm.
    expect(retries).toMatchObject({ MetricName: 'ResetJobRetryScheduled', Threshold: 20 });
  });

  it('watch the GSI throttles by index name, and invalid tokens by reason', () => {
    const json = JSON.stringify(alarmsOf(dev));

    expect(json).toContain('"GlobalSecondaryIndexName","Value":"email-index"');
    expect(json).toMatch(
      /"MetricName":"ResetRejected".*"Value":"invalid_or_expired_token"|invalid_or_expired_token.*ResetRejected/,
    );
  });

  it('notify the SNS topic on ALARM and on OK, every one of them', () => {
    const topicArn = PROD_CONTEXT.alarmTopicArn;
    const alarms = alarmsOf(prod);

    expect(alarms.length).toBeGreaterThan(20);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([topicArn]);
      expect(alarm.OKActions).toEqual([topicArn]);
    }
  });

  it('come with a dashboard of the service metrics', () => {
    const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0];
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);

    expect(dashboard?.Properties.DashboardName).toBe('password-reset-dev');
    for (const metric of [
      'ResetRequested',
      'ResetCompleted',
      'GatewayThrottled',
      'Duration',
      'ThrottledRequests',
    ])
      expect(body).toContain(metric);
  });
});

describe('production', () => {
  it('pins the account and region, turns on termination protection and tags everything', () => {
    expect(prod.stack.account).toBe('123456789012');
    expect(prod.stack.region).toBe('eu-west-1');
    expect(prod.stack.terminationProtection).toBe(true);
    expect(dev.stack.terminationProtection).toBe(false);
    prod.template.hasResourceProperties('AWS::DynamoDB::Table', {
      Tags: Match.arrayWith([
        { Key: 'service', Value: 'password-reset' },
        { Key: 'stage', Value: 'prod' },
      ]),
    });
    prod.template.hasResourceProperties('AWS::Lambda::Function', {
      Tags: Match.arrayWith([{ Key: 'stage', Value: 'prod' }]),
    });
  });

  it('shifts traffic to a new version by a CodeDeploy canary that rolls back on the alarms', () => {
    const groups = Object.values(prod.template.findResources('AWS::CodeDeploy::DeploymentGroup')).map(
      (g) => g.Properties,
    );
    const aliases = Object.values(prod.template.findResources('AWS::Lambda::Alias'));

    expect(groups).toHaveLength(2);
    for (const group of groups) {
      expect(group.DeploymentConfigName).toBe('CodeDeployDefault.LambdaCanary10Percent5Minutes');
      expect(group.AutoRollbackConfiguration).toMatchObject({
        Enabled: true,
        Events: expect.arrayContaining(['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM']),
      });
      const names = JSON.stringify(group.AlarmConfiguration.Alarms);
      for (const alarm of [
        'Api5xxRate',
        'RequestFunctionErrors',
        'ConfirmFunctionErrors',
        'ConfirmDurationNearTimeout',
      ])
        expect(names).toContain(alarm);
    }
    for (const alias of aliases) expect(alias.UpdatePolicy?.CodeDeployLambdaAliasUpdate).toBeDefined();
    template.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', 0);
  });
});

describe('cdk-nag', () => {
  const everyVariant = [
    ['dev', {}],
    ['prod', PROD_CONTEXT],
    ['dev with tracing', { tracing: 'true' }],
  ] as const;

  it.each(everyVariant)(
    '%s: AwsSolutions and Serverless packs, no open finding, no dead acknowledgement',
    (_, context) => {
      const { plugins, acknowledgements } = nag(synth(context).app);

      expect(plugins.map((p) => p.pluginName).sort()).toEqual(['AwsSolutions', 'Serverless']);
      for (const plugin of plugins) expect(plugin.violations).toEqual([]);
      const used = new Set(
        plugins.flatMap((p) => p.suppressedViolations.map((v) => `${v.acknowledgedAt} ${v.acknowledgedId}`)),
      );
      for (const ack of acknowledgements) {
        expect(used, `dead acknowledgement ${ack.id} at ${ack.path}`).toContain(`${ack.path} ${ack.id}`);
        expect(ack.reason.length).toBeGreaterThan(40);
      }
    },
  );

  it('fails the synth on an unacknowledged finding, a warning included', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const { stack } = buildApp(app);
    new Table(stack, 'UnprotectedTable', { partitionKey: { name: 'id', type: AttributeType.STRING } });

    expect(() => app.synth()).toThrowError(/AwsSolutions-DDB3|Point-in-time/i);
  });
});

describe('bundling', () => {
  it('bundles every handler with the local esbuild into compact ESM files', () => {
    const { app } = synth({}, true);

    const assembly = app.synth();
    const bundles = readdirSync(assembly.directory)
      .filter((name) => name.startsWith('asset.'))
      .map((name) => join(assembly.directory, name, 'index.mjs'))
      .filter((path) => {
        try {
          return statSync(path).isFile();
        } catch {
          return false;
        }
      });
    const sizes = bundles.map((path) => statSync(path).size);

    expect(bundles).toHaveLength(4); // request, confirm, reset worker, email sender
    for (const size of sizes) {
      expect(size).toBeGreaterThan(100_000);
      expect(size).toBeLessThan(1_500_000);
    }
    for (const path of bundles) {
      const map = JSON.parse(readFileSync(`${path}.map`, 'utf8')) as {
        sources: string[];
        sourcesContent?: unknown;
      };
      // Shipped maps name files and lines only, and the default credential chain is aliased away.
      expect(map.sourcesContent).toBeUndefined();
      expect(
        map.sources.some((source) => /credential-provider-(node|sso|ini)|nested-clients/.test(source)),
      ).toBe(false);
      expect(map.sources.some((source) => source.includes('credential-provider-env'))).toBe(true);
    }

    // The API functions read SSM and Secrets Manager through lib/aws/parameter-providers.ts, not
    // the generated clients, and load with nothing beside them, as in Lambda (no node_modules).
    const apiBundles = bundles.filter((path) =>
      /functions\/(request|confirm)-reset\.ts/.test(readFileSync(`${path}.map`, 'utf8')),
    );
    expect(apiBundles).toHaveLength(2);
    for (const path of apiBundles) {
      const sources = (JSON.parse(readFileSync(`${path}.map`, 'utf8')) as { sources: string[] }).sources;
      expect(sources.some((source) => /client-(ssm|secrets-manager)\//.test(source))).toBe(false);
      // Both hand mail or jobs to SQS by a signed call; the request function's limiter too.
      expect(sources.some((source) => /client-sqs\//.test(source))).toBe(false);
      if (sources.some((source) => source.includes('functions/request-reset.ts')))
        expect(sources.some((source) => /(client|lib)-dynamodb\//.test(source))).toBe(false);
      const alone = mkdtempSync(join(tmpdir(), 'bundle-'));
      try {
        copyFileSync(path, join(alone, 'index.mjs'));
        const loaded = execFileSync(
          process.execPath,
          ['--input-type=module', '-e', "await import('./index.mjs'); console.log('loaded')"],
          { cwd: alone, env: { PATH: process.env.PATH, ...LOCAL_DEFAULTS, AWS_REGION: 'eu-west-1' } },
        );
        expect(loaded.toString()).toContain('loaded');
      } finally {
        rmSync(alone, { recursive: true, force: true });
      }
    }
  }, 120_000);
});
