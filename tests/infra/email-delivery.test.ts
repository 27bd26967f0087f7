import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app';
import { SES, SMTP } from '../../infra/variants';
import { nagReport } from './synth';

/** Email delivery (infra/email-delivery.ts) as `cdk synth` builds it, without bundling. */
function synth(context: Record<string, unknown> = {}) {
  // PasswordChanged events add their own queue and alarms (tests/infra/password-events.test.ts).
  const app = new App({
    context: { passwordChangedEvents: 'false', ...context, 'aws:cdk:bundling-stacks': [] },
  });
  const { stack } = buildApp(app);
  return { app, stack, template: Template.fromStack(stack) };
}

const SMTP_SECRET = SMTP.smtpSecretArn;

const mock = synth().template;
const ses = synth(SES).template;
const smtp = synth(SMTP).template;

/** Every IAM statement of the role whose logical id starts with `prefix`. */
function statementsOf(template: Template, prefix: string): Array<Record<string, unknown>> {
  const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([, policy]) =>
    JSON.stringify(policy.Properties.Roles).includes(prefix),
  );
  return policies.flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
}
const sid = (statements: Array<Record<string, unknown>>, name: string) =>
  statements.find((s) => s.Sid === name);

describe('the queue and the dead-letter queue', () => {
  it('encrypts both, enforces TLS, keeps queued mail no longer than the link lives and dead letters for hours', () => {
    const queues = Object.values(mock.findResources('AWS::SQS::Queue')).map((q) => q.Properties);
    const main = queues.find((q) => q.RedrivePolicy);
    const dead = queues.find((q) => !q.RedrivePolicy);

    expect(queues).toHaveLength(2);
    for (const queue of queues) expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(main.MessageRetentionPeriod).toBe(15 * 60);
    expect(main.VisibilityTimeout).toBe(180);
    expect(main.RedrivePolicy.maxReceiveCount).toBe(10);
    expect(dead.MessageRetentionPeriod).toBe(6 * 3600);
    mock.resourcePropertiesCountIs(
      'AWS::SQS::QueuePolicy',
      {
        PolicyDocument: Match.objectLike({
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        }),
      },
      2,
    );
  });

  it('feeds the sender with partial batch responses and a concurrency cap', () => {
    mock.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });

  it('lets request and confirm only send to the queue, and request only read suppressed addresses', () => {
    for (const role of ['RequestResetRole', 'ConfirmResetRole']) {
      const handOff = sid(statementsOf(mock, role), 'HandMailToTheSender');
      expect(handOff).toMatchObject({ Action: 'sqs:SendMessage' });
      expect(JSON.stringify(handOff?.Resource)).toContain('EmailDeliveryQueue');
    }
    expect(sid(statementsOf(mock, 'RequestResetRole'), 'ReadSuppressedAddresses')).toMatchObject({
      Action: 'dynamodb:GetItem',
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['suppressed#*'] } },
    });
    expect(sid(statementsOf(mock, 'ConfirmResetRole'), 'ReadSuppressedAddresses')).toBeUndefined();
  });
});

describe('the sender', () => {
  it('keeps its idempotency records under email-sent# only, and reads only the kill-switch', () => {
    const statements = statementsOf(mock, 'EmailDeliverySenderRole');

    expect(sid(statements, 'IdempotencyRecords')).toMatchObject({
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['email-sent#*'] } },
    });
    expect(sid(statements, 'ReadKillSwitch')).toMatchObject({ Action: 'ssm:GetParameter' });
  });

  it('may call ses:SendEmail on the identity and the configuration set only', () => {
    const send = sid(statementsOf(ses, 'EmailDeliverySenderRole'), 'SendThroughIdentityAndConfigurationSet');
    const resources = JSON.stringify(send?.Resource);

    expect(send?.Action).toBe('ses:SendEmail');
    expect(send?.Resource).toHaveLength(2);
    expect(resources).toContain(':identity/');
    expect(resources).toContain('EmailDeliveryIdentity');
    expect(resources).toContain(':configuration-set/');
    expect(JSON.stringify(statementsOf(mock, 'EmailDeliverySenderRole'))).not.toContain('ses:');
  });

  it('may read the SMTP secret and nothing else from Secrets Manager', () => {
    const read = sid(statementsOf(smtp, 'EmailDeliverySenderRole'), 'ReadSmtpSecret');
    const partial = sid(
      statementsOf(
        synth({ ...SMTP, smtpSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:smtp' })
          .template,
        'EmailDeliverySenderRole',
      ),
      'ReadSmtpSecret',
    );

    expect(read).toMatchObject({ Action: 'secretsmanager:GetSecretValue', Resource: SMTP_SECRET });
    expect(partial?.Resource).toBe('arn:aws:secretsmanager:eu-west-1:123456789012:secret:smtp-??????');
  });

  it('is configured for its provider through the environment', () => {
    const senderEnv = (template: Template) =>
      Object.values(template.findResources('AWS::Lambda::Function'))
        .map((fn) => fn.Properties.Environment?.Variables)
        .find((env) => env?.EMAIL_DLQ_URL);

    expect(senderEnv(ses)).toMatchObject({
      EMAIL_PROVIDER: 'ses',
      EMAIL_FROM: 'Market <no-reply@market.example.com>',
      SES_CONFIGURATION_SET: { Ref: expect.stringMatching(/ConfigurationSet/) },
    });
    expect(senderEnv(smtp)).toMatchObject({ EMAIL_PROVIDER: 'smtp', SMTP_SECRET_ARN: SMTP_SECRET });
    expect(senderEnv(smtp)).not.toHaveProperty('SMTP_URL');
  });

  it('has no wildcard action or resource in any email statement', () => {
    for (const template of [mock, ses, smtp]) {
      for (const prefix of ['EmailDeliverySenderRole', 'EmailDeliveryBounceHandlerRole']) {
        for (const statement of statementsOf(template, prefix)) {
          expect([statement.Action].flat().some((action) => String(action).includes('*'))).toBe(false);
          expect([statement.Resource].flat()).not.toContain('*');
        }
      }
    }
  });
});

describe('SES', () => {
  it('creates a domain identity with Easy DKIM and outputs its three DNS records', () => {
    ses.hasResourceProperties('AWS::SES::EmailIdentity', {
      EmailIdentity: 'market.example.com',
      DkimSigningAttributes: Match.absent(),
      ConfigurationSetAttributes: {
        ConfigurationSetName: { Ref: Match.stringLikeRegexp('ConfigurationSet') },
      },
    });
    const outputs = Object.keys(ses.findOutputs('*')).filter((key) => key.includes('DkimRecord'));
    expect(outputs).toHaveLength(3);
  });

  it('imports an existing identity instead when asked', () => {
    const imported = synth({ ...SES, importSesIdentity: 'true' }).template;

    imported.resourceCountIs('AWS::SES::EmailIdentity', 0);
    expect(JSON.stringify(statementsOf(imported, 'EmailDeliverySenderRole'))).toContain(
      ':identity/market.example.com',
    );
  });

  it('sends bounces and complaints of its configuration set to the suppression handler', () => {
    ses.hasResourceProperties('AWS::SES::ConfigurationSetEventDestination', {
      EventDestination: Match.objectLike({
        Enabled: true,
        MatchingEventTypes: Match.arrayEquals(['bounce', 'complaint']),
        EventBridgeDestination: Match.anyValue(),
      }),
    });
    ses.hasResourceProperties('AWS::SES::ConfigurationSet', {
      SuppressionOptions: { SuppressedReasons: ['BOUNCE', 'COMPLAINT'] },
    });
    ses.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        source: ['aws.ses'],
        'detail-type': ['Email Bounced', 'Email Complaint Received'],
      }),
    });
    expect(
      sid(statementsOf(ses, 'EmailDeliveryBounceHandlerRole'), 'WriteSuppressedAddresses'),
    ).toMatchObject({
      Action: 'dynamodb:PutItem',
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['suppressed#*'] } },
    });
    smtp.resourceCountIs('AWS::Events::Rule', 0);
  });
});

describe('alarms', () => {
  it('watch the dead-letter queue, the backlog age, hand-off and sender errors, retries, and with SES the reputation', () => {
    const names = (template: Template) =>
      Object.keys(template.findResources('AWS::CloudWatch::Alarm')).filter((id) =>
        id.startsWith('EmailDelivery'),
      );

    expect(
      names(mock)
        .map((id) => id.replace(/^EmailDelivery|[0-9A-F]{8}$/g, ''))
        .sort(),
    ).toEqual(['DeadLetters', 'EmailRetries', 'HandOffErrors', 'QueueBacklogAge', 'SenderErrors']);
    expect(names(ses)).toHaveLength(7);
    ses.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SES',
      MetricName: 'Reputation.BounceRate',
      Threshold: 0.05,
    });
  });
});

describe('refusing silent data loss and broken settings at synth time', () => {
  // The rest of what prod requires: account, region and an SNS alarm topic.
  const prod = {
    stage: 'prod',
    resetLinkTemplate: 'https://market.example.com/reset#token={token}',
    account: '123456789012',
    region: 'eu-west-1',
    alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall',
  };

  it('refuses stage=prod with the mock provider unless allowMockEmailInProd is given', () => {
    expect(() => synth(prod)).toThrowError(/emailProvider=mock in stage=prod.*allowMockEmailInProd=true/);
    expect(() => synth({ ...prod, allowMockEmailInProd: 'true' })).not.toThrow();
    expect(() => synth({ ...prod, ...SES })).not.toThrow();
  });

  it.each([
    [{ emailProvider: 'ses', sesIdentity: 'market.example.com' }, /emailFrom is required/],
    [{ emailProvider: 'ses', emailFrom: 'no-reply@market.example.com' }, /sesIdentity is required/],
    [{ ...SES, emailFrom: 'no-reply@other.example.com' }, /not covered by sesIdentity/],
    [{ emailProvider: 'smtp', emailFrom: 'no-reply@market.example.com' }, /smtpSecretArn is required/],
    [
      { ...SMTP, smtpSecretArn: 'arn:aws:ssm:eu-west-1:123456789012:parameter/smtp' },
      /Secrets Manager secret ARN/,
    ],
    [{ emailProvider: 'sendgrid' }, /emailProvider/],
  ])('fails the synth naming the setting: %j', (context, message) => {
    expect(() => synth(context)).toThrowError(message);
  });
});

describe('cdk-nag', () => {
  it('passes the AWS Solutions and Serverless packs for mock, ses and smtp, every acknowledgement in use', () => {
    for (const context of [{}, SES, SMTP]) {
      const { plugins, acknowledgements } = nagReport(synth(context).app); // synth throws on any open finding

      for (const plugin of plugins) expect(plugin.violations).toEqual([]);
      const used = new Set(
        plugins.flatMap((p) => p.suppressedViolations.map((v) => `${v.acknowledgedAt} ${v.acknowledgedId}`)),
      );
      for (const ack of acknowledgements) expect(used).toContain(`${ack.path} ${ack.id}`);
    }
  });
});
