import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app';

/** Builds the app as `cdk synth` does, without bundling unless asked. */
function synth(context: Record<string, unknown> = {}, bundle = false) {
  const app = new App({
    // PasswordChanged events have their own tests (tests/infra/password-events.test.ts).
    context: {
      passwordChangedEvents: 'false',
      ...context,
      ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  const { stack } = buildApp(app);
  return { app, stack, template: Template.fromStack(stack) };
}

const dev = synth();
const { template } = dev;

describe('the API', () => {
  it('has the two API functions plus the email sender, two POST routes, and no /__local route', () => {
    template.resourceCountIs('AWS::Lambda::Function', 3);
    const routes = template.findResources('AWS::ApiGatewayV2::Route');
    const keys = Object.values(routes)
      .map((r) => r.Properties.RouteKey)
      .sort();

    expect(keys).toEqual(['POST /api/auth/password-reset/confirm', 'POST /api/auth/password-reset/request']);
    expect(JSON.stringify(template.toJSON())).not.toContain('__local');
  });

  it('is an HTTP API with stage throttling and a JSON access log without bodies', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0]?.Properties;
    const format = JSON.parse(stage.AccessLogSettings.Format);

    expect(stage.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
    expect(stage.AccessLogSettings.Format).not.toMatch(/body|\$input/i);
  });

  it('allows no CORS origin by default and exactly the configured ones otherwise', () => {
    const api = () => Object.values(template.findResources('AWS::ApiGatewayV2::Api'))[0]?.Properties;
    expect(api().CorsConfiguration).toBeUndefined();

    const withCors = synth({ corsOrigins: 'https://market.example.com' }).template;
    withCors.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({
        AllowOrigins: ['https://market.example.com'],
        AllowMethods: ['POST'],
      }),
    });
  });
});

describe('the functions', () => {
  it('run on the newest Node.js runtime, on ARM64, with their own log groups', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));

    for (const fn of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
    }
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 14 }, 4);
  });

  it('gives confirm more memory than request, for bcrypt', () => {
    const roleOf = (fn: 'requestFunction' | 'confirmFunction') =>
      dev.stack.getLogicalId(dev.stack[fn].role?.node.defaultChild as never);

    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      Role: { 'Fn::GetAtt': [roleOf('confirmFunction'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 256,
      Role: { 'Fn::GetAtt': [roleOf('requestFunction'), 'Arn'] },
    });
  });

  it('wires tables, index, parameter and link template into the environment', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    const env = fn?.Properties.Environment.Variables;

    expect(Object.keys(env).sort()).toEqual(
      [
        'ACCOUNT_KEY_SALT',
        'BCRYPT_COST',
        'EMAIL_QUEUE_URL',
        'KILL_SWITCH_PARAMETER_NAME',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_SERVICE_NAME',
        'REQUEST_RESPONSE_FLOOR_MS',
        'RESET_LINK_TEMPLATE',
        'TOKEN_TABLE_NAME',
        'TOKEN_TTL_MINUTES',
        'USERS_EMAIL_INDEX_NAME',
        'USERS_TABLE_NAME',
      ].sort(),
    );
    expect(env.TOKEN_TABLE_NAME).toEqual({ Ref: expect.stringMatching(/^TokenTable/) });
    expect(env.USERS_TABLE_NAME).toEqual({ Ref: expect.stringMatching(/^UsersTable/) });
    expect(env.KILL_SWITCH_PARAMETER_NAME).toEqual({ Ref: expect.stringMatching(/^EmailKillSwitch/) });
    expect(env.USERS_EMAIL_INDEX_NAME).toBe('email-index');
    expect(env.BCRYPT_COST).toBe('12');
    expect(env.RESET_LINK_TEMPLATE).toContain('{token}');
  });

  it('turns on X-Ray only when asked', () => {
    expect(JSON.stringify(template.findResources('AWS::Lambda::Function'))).not.toContain('TracingConfig');
    synth({ tracing: 'true' }).template.hasResourceProperties('AWS::Lambda::Function', {
      TracingConfig: { Mode: 'Active' },
    });
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
    const prod = synth({
      stage: 'prod',
      resetLinkTemplate: 'https://shop.example.com/reset#token={token}',
      allowMockEmailInProd: 'true',
    });

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
    prod.template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 90 }, 4);
  });

  it('refuses a prod synth without the reset link template', () => {
    expect(() => synth({ stage: 'prod' })).toThrowError(/resetLinkTemplate/);
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
    const env = Object.values(imported.template.findResources('AWS::Lambda::Function'))[0]?.Properties
      .Environment.Variables;
    expect(env.USERS_TABLE_NAME).toBe('marketplace-users');
    expect(env.USERS_EMAIL_INDEX_NAME).toBe('by-email');
  });
});

describe('the kill-switch parameter', () => {
  it('defaults to enabled, not dry run, and is a stack output', () => {
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Type: 'String',
      Name: '/password-reset/dev/email-kill-switch',
      Value: '{"enabled":true,"dryRun":false}',
    });
    template.hasOutput('KillSwitchParameterName', {});
    template.hasOutput('ApiUrl', {});
    template.hasOutput('TokenTableName', {});
    template.hasOutput('UsersTableName', {});
  });
});

describe('least privilege', () => {
  const statementsOf = (fnName: 'requestFunction' | 'confirmFunction') => {
    const roleId = dev.stack.getLogicalId(dev.stack[fnName].role?.node.defaultChild as never);
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId),
    );
    return policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>);
  };
  const bySid = (fnName: 'requestFunction' | 'confirmFunction', sid: string) =>
    statementsOf(fnName).find((s) => s.Sid === sid);

  it('lets request query only the email index and write only token items and counters', () => {
    expect(bySid('requestFunction', 'QueryUsersByEmail')).toMatchObject({
      Action: 'dynamodb:Query',
      Resource: {
        'Fn::Join': [
          '',
          [{ 'Fn::GetAtt': [expect.stringMatching(/^UsersTable/), 'Arn'] }, '/index/email-index'],
        ],
      },
    });
    expect(bySid('requestFunction', 'WriteTokensAndCounters')).toMatchObject({
      Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^TokenTable/), 'Arn'] },
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['token#*', 'active#*', 'rate#*'] } },
    });
    expect(JSON.stringify(statementsOf('requestFunction'))).not.toContain('DeleteItem');
  });

  it('lets confirm update only the password fields of users', () => {
    expect(bySid('confirmFunction', 'UpdatePasswordFieldsOnly')).toMatchObject({
      Action: 'dynamodb:UpdateItem',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^UsersTable/), 'Arn'] },
      Condition: {
        'ForAllValues:StringEquals': {
          'dynamodb:Attributes': ['userId', 'passwordHash', 'passwordChangedAt', 'credentialVersion'],
        },
      },
    });
    expect(bySid('confirmFunction', 'ReadUserEmail')).toMatchObject({
      Action: 'dynamodb:BatchGetItem',
      Condition: {
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['userId', 'email', 'credentialVersion'] },
      },
    });
  });

  it('lets both read only the kill-switch parameter from SSM', () => {
    for (const fn of ['requestFunction', 'confirmFunction'] as const) {
      expect(bySid(fn, 'ReadKillSwitch')).toMatchObject({
        Action: 'ssm:GetParameter',
        Resource: {
          'Fn::Join': ['', expect.arrayContaining([{ Ref: expect.stringMatching(/^EmailKillSwitch/) }])],
        },
      });
    }
  });

  it('has no wildcard action and no wildcard resource anywhere', () => {
    const statements = [...statementsOf('requestFunction'), ...statementsOf('confirmFunction')];

    expect(statements.length).toBeGreaterThan(5);
    for (const statement of statements) {
      expect([statement.Action].flat().some((action) => String(action).includes('*'))).toBe(false);
      expect([statement.Resource].flat()).not.toContain('*');
    }
    template.resourcePropertiesCountIs('AWS::IAM::Role', { ManagedPolicyArns: Match.anyValue() }, 0);
  });
});

describe('alarms', () => {
  it('watch the API 5xx rate, function errors and throttles, the fail-closed switch and the timing floor', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    const names = alarms.map((a) => JSON.stringify(a.Properties));

    // 8 here, 5 for email delivery (tests/infra/email-delivery.test.ts).
    expect(alarms).toHaveLength(13);
    expect(names.some((a) => a.includes('5xx'))).toBe(true);
    expect(names.filter((a) => a.includes('"MetricName":"Errors"'))).toHaveLength(3);
    expect(names.filter((a) => a.includes('"MetricName":"Throttles"'))).toHaveLength(2);
    expect(names.some((a) => a.includes('"MetricName":"KillSwitchUnavailable"'))).toBe(true);
    expect(names.some((a) => a.includes('"MetricName":"ResponseFloorExceeded"'))).toBe(true);
  });

  it('notify the SNS topic given in context', () => {
    const topicArn = 'arn:aws:sns:us-east-1:123456789012:oncall';
    const alarms = Object.values(
      synth({ alarmTopicArn: topicArn }).template.findResources('AWS::CloudWatch::Alarm'),
    );

    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([topicArn]);
  });
});

describe('cdk-nag', () => {
  it('passes the AWS Solutions checks with every acknowledgement explained', () => {
    const assembly = dev.app.synth();

    const acknowledged = assembly
      .getStackArtifact(dev.stack.artifactId)
      .findMetadataByType('aws:cdk:acknowledged-rules')
      .flatMap((entry) => Object.entries(entry.data as unknown as Record<string, string>));
    expect(acknowledged.map(([rule]) => rule)).toContain('Annotation::AwsSolutions-APIG4');
    for (const [, reason] of acknowledged) expect(reason.length).toBeGreaterThan(40);
  });

  it('fails the synth on an unacknowledged finding', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const { stack } = buildApp(app);
    new Table(stack, 'UnprotectedTable', { partitionKey: { name: 'id', type: AttributeType.STRING } });

    expect(() => app.synth()).toThrowError(/AwsSolutions-DDB3|point-in-time/i);
  });
});

describe('bundling', () => {
  it('bundles both handlers with the local esbuild into compact ESM files', () => {
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

    expect(bundles).toHaveLength(3); // request, confirm, email sender
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
  }, 120_000);
});
