import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app';

/** PasswordChanged events in the stack: on by default, an existing bus on request, or off. */
function synth(context: Record<string, unknown> = {}, bundle = false) {
  const app = new App({ context: { ...context, ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) } });
  const { stack } = buildApp(app);
  return { app, stack, template: Template.fromStack(stack) };
}

const on = synth();
const off = synth({ passwordChangedEvents: 'false' });

function statementsOfRole(template: Template, rolePattern: RegExp) {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => policy.Properties.Roles.some((role: { Ref: string }) => rolePattern.test(role.Ref)))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>);
}
const publisherStatements = (template: Template) =>
  statementsOfRole(template, /^PasswordEventsPublisherRole/);
const confirmStatements = (template: Template) => statementsOfRole(template, /^ConfirmResetRole/);

function acknowledgedRules(built: ReturnType<typeof synth>) {
  return built.app
    .synth()
    .getStackArtifact(built.stack.artifactId)
    .findMetadataByType('aws:cdk:acknowledged-rules')
    .flatMap((entry) => Object.entries(entry.data as unknown as Record<string, string>));
}

describe('with events on (the default)', () => {
  it('streams new images of the token table only', () => {
    on.template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
    });
    on.template.resourcePropertiesCountIs(
      'AWS::DynamoDB::Table',
      { StreamSpecification: Match.anyValue() },
      1,
    );
  });

  it('creates the bus password-reset-<stage> and tells the publisher its name', () => {
    on.template.hasResourceProperties('AWS::Events::EventBus', { Name: 'password-reset-dev' });
    on.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: {
        Variables: Match.objectLike({
          EVENT_BUS_NAME: { Ref: Match.stringLikeRegexp('^PasswordEventsBus') },
        }),
      },
    });
    on.template.hasOutput('EventBusName', {});
  });

  it('feeds the publisher only new outbox items, with partial batch failures, bisect, an age limit and an on-failure queue', () => {
    on.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TokenTable'), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRecordAgeInSeconds: 6 * 3600,
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PasswordEventsPublishFailures'), 'Arn'] },
        },
      },
      FilterCriteria: {
        Filters: [
          {
            Pattern: JSON.stringify({
              eventName: ['INSERT'],
              dynamodb: { Keys: { pk: { S: [{ prefix: 'outbox#' }] } } },
            }),
          },
        ],
      },
    });
    on.template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
  });

  it('lets the publisher read only the token table stream and put only PasswordChanged events on the bus', () => {
    const statements = publisherStatements(on.template);
    const bySid = (sid: string) => statements.find((s) => s.Sid === sid);

    expect(bySid('ReadTokenTableStream')).toMatchObject({
      Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^TokenTable/), 'StreamArn'] },
    });
    expect(bySid('PutPasswordChangedEvents')).toMatchObject({
      Action: 'events:PutEvents',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^PasswordEventsBus/), 'Arn'] },
      Condition: {
        StringEquals: { 'events:source': 'password-reset', 'events:detail-type': 'PasswordChanged' },
      },
    });
    const actions = statements.flatMap((s) => [s.Action].flat().map(String));
    expect(actions.filter((a) => a.startsWith('dynamodb:')).sort()).toEqual([
      'dynamodb:DescribeStream',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:ListStreams',
    ]);
    expect(actions.some((a) => a.includes('*'))).toBe(false);
    for (const statement of statements) expect([statement.Resource].flat()).not.toContain('*');
    // The publisher's own role has no managed policy (the stack's create-only kill-switch custom
    // resource is a CDK singleton with its own role, and is not the publisher).
    const publisherRole = on.stack.getLogicalId(
      (on.stack.node.findAll().find((c) => c.node.path.endsWith('PasswordEvents/PublisherRole/Resource')) ??
        on.stack) as never,
    );
    const roles = on.template.toJSON().Resources as Record<
      string,
      { Properties?: { ManagedPolicyArns?: unknown } }
    >;
    expect(roles[publisherRole]).toBeDefined();
    expect(roles[publisherRole]?.Properties?.ManagedPolicyArns).toBeUndefined();
  });

  it('lets confirm put only outbox items, and turns the outbox on in its environment', () => {
    expect(confirmStatements(on.template).find((s) => s.Sid === 'WritePasswordChangedOutbox')).toMatchObject({
      Action: 'dynamodb:PutItem',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^TokenTable/), 'Arn'] },
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['outbox#*'] } },
    });
    on.template.hasResourceProperties('AWS::Lambda::Function', {
      Role: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ConfirmResetRole'), 'Arn'] },
      Environment: { Variables: Match.objectLike({ PASSWORD_CHANGED_EVENTS: 'true' }) },
    });
  });

  it('alarms on stream backlog well before the 24 h retention, on dead letters and on publisher errors', () => {
    const alarms = Object.values(on.template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties,
    );
    const iteratorAge = alarms.find((a) => a.MetricName === 'IteratorAge');
    const deadLetters = alarms.find((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible');

    expect(iteratorAge).toMatchObject({ Statistic: 'Maximum', Threshold: 10 * 60 * 1000 });
    expect(iteratorAge?.Threshold).toBeLessThan(24 * 3600 * 1000);
    expect(deadLetters).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    const publisherErrors = alarms.filter(
      (a) => a.MetricName === 'Errors' && JSON.stringify(a.Dimensions).includes('PasswordEventsPublisher'),
    );
    expect(publisherErrors).toHaveLength(1);
  });

  it('sends the event alarms to the SNS topic given in context', () => {
    const topicArn = 'arn:aws:sns:us-east-1:123456789012:oncall';
    const alarms = Object.values(
      synth({ alarmTopicArn: topicArn }).template.findResources('AWS::CloudWatch::Alarm'),
    );

    expect(alarms.some((a) => a.Properties.MetricName === 'IteratorAge')).toBe(true);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([topicArn]);
  });

  it('is cdk-nag clean, every acknowledgement explained', () => {
    const acknowledged = acknowledgedRules(on);

    expect(acknowledged.map(([rule]) => rule)).toEqual(
      expect.arrayContaining(['Annotation::AwsSolutions-SQS3']),
    );
    for (const [, reason] of acknowledged) expect(reason.length).toBeGreaterThan(40);
  });
});

describe('with an existing bus', () => {
  it('creates no bus and grants PutEvents on the named one', () => {
    const existing = synth({ eventBusName: 'marketplace-events' });

    existing.template.resourceCountIs('AWS::Events::EventBus', 0);
    const put = publisherStatements(existing.template).find((s) => s.Sid === 'PutPasswordChangedEvents');
    expect(JSON.stringify(put?.Resource)).toContain(':event-bus/marketplace-events');
  });

  it('accepts the bus ARN too', () => {
    const arn = 'arn:aws:events:us-east-1:123456789012:event-bus/shared';
    const existing = synth({ eventBusName: arn });

    const put = publisherStatements(existing.template).find((s) => s.Sid === 'PutPasswordChangedEvents');
    expect(put?.Resource).toBe(arn);
  });

  it('refuses a bus name with events turned off', () => {
    expect(() => synth({ eventBusName: 'x', passwordChangedEvents: 'false' })).toThrowError(/eventBusName/);
  });
});

describe('with events off', () => {
  it('has no stream, bus, publisher, queue or outbox grant, and tells confirm not to write outbox items', () => {
    const count = (template: Template, type: string) => Object.keys(template.findResources(type)).length;
    for (const type of ['AWS::Lambda::EventSourceMapping', 'AWS::SQS::Queue', 'AWS::Lambda::Function']) {
      expect(count(on.template, type) - count(off.template, type), type).toBe(1);
    }
    off.template.resourceCountIs('AWS::Events::EventBus', 0);
    expect(JSON.stringify(off.template.toJSON())).not.toMatch(/PasswordEvents|StreamArn/);
    off.template.resourcePropertiesCountIs(
      'AWS::DynamoDB::Table',
      { StreamSpecification: Match.anyValue() },
      0,
    );
    expect(JSON.stringify(confirmStatements(off.template))).not.toContain('outbox#');
    off.template.hasResourceProperties('AWS::Lambda::Function', {
      Role: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ConfirmResetRole'), 'Arn'] },
      Environment: { Variables: Match.objectLike({ PASSWORD_CHANGED_EVENTS: 'false' }) },
    });
  });

  it('is cdk-nag clean', () => {
    expect(() => acknowledgedRules(off)).not.toThrow();
  });
});

describe('bundling', () => {
  it('bundles the publisher with the local esbuild into one compact ESM file', () => {
    const { app } = synth({}, true);

    const assembly = app.synth();
    const template = Template.fromJSON(assembly.getStackArtifact('PasswordReset-dev').template);
    const [publisher] = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) =>
      id.startsWith('PasswordEventsPublisher'),
    );
    const assetHash = String(publisher?.[1].Properties.Code.S3Key).replace(/\.zip$/, '');
    const bundle = join(assembly.directory, `asset.${assetHash}`, 'index.mjs');

    expect(
      readdirSync(assembly.directory).filter((name) => name.startsWith('asset.')).length,
    ).toBeGreaterThan(2);
    expect(statSync(bundle).size).toBeGreaterThan(50_000);
    expect(statSync(bundle).size).toBeLessThan(1_500_000);
  }, 180_000);
});
