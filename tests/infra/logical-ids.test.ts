import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { VARIANTS } from '../../infra/variants';
import { synth } from './synth';

/**
 * Resources that hold data, or whose name or address someone outside the stack relies on. A new
 * logical ID makes CloudFormation create a fresh one and delete (or orphan) the old one: a table's
 * items, a secret's value, the kill-switch an operator set, the API's URL, a queue's messages.
 */
const STATEFUL_TYPES = new Set([
  'AWS::DynamoDB::Table',
  'AWS::SecretsManager::Secret',
  'Custom::KillSwitchParameter',
  'AWS::ApiGatewayV2::Api',
  'AWS::ApiGatewayV2::Stage',
  'AWS::Logs::LogGroup',
  'AWS::CloudWatch::Dashboard',
  'AWS::Events::EventBus',
  'AWS::SES::EmailIdentity',
  'AWS::SES::ConfigurationSet',
  'AWS::SQS::Queue',
  'AWS::CloudFront::Distribution',
  'AWS::WAFv2::WebACL',
]);

// The IDs as the stack has always named them. Change one only with a migration plan.
const ALWAYS = {
  TokenTable3625D248: 'AWS::DynamoDB::Table',
  AccountKeySecretF3646179: 'AWS::SecretsManager::Secret',
  EmailKillSwitchCreateOnceFBDE4896: 'Custom::KillSwitchParameter',
  ApiF70053CD: 'AWS::ApiGatewayV2::Api',
  ApiDefaultStage189A7074: 'AWS::ApiGatewayV2::Stage',
  ApiAccessLogsE9DF007D: 'AWS::Logs::LogGroup',
  RequestResetLogs5B6A7FF5: 'AWS::Logs::LogGroup',
  ConfirmResetLogs66CA86CE: 'AWS::Logs::LogGroup',
  MonitoringDashboard0C3675C6: 'AWS::CloudWatch::Dashboard',
  EmailDeliveryQueueC7695D00: 'AWS::SQS::Queue',
  EmailDeliveryDeadLetterQueue257D9D37: 'AWS::SQS::Queue',
  EmailDeliverySenderLogsDDDE9BE6: 'AWS::Logs::LogGroup',
};
/** Unless an existing users table is imported. */
const USERS_TABLE = { UsersTable9725E9C8: 'AWS::DynamoDB::Table' };
/** PasswordChanged events, on by default. */
const EVENTS = {
  PasswordEventsPublishFailures8C8EF9C7: 'AWS::SQS::Queue',
  PasswordEventsPublisherLogsFD7D05A1: 'AWS::Logs::LogGroup',
};
/** Unless an existing bus is named. */
const EVENT_BUS = { PasswordEventsBus433CE193: 'AWS::Events::EventBus' };
/** emailProvider=ses: the configuration set and the bounce handler, created or imported identity. */
const SES = {
  EmailDeliveryConfigurationSetCE851DA5: 'AWS::SES::ConfigurationSet',
  EmailDeliveryBounceHandlerLogs4634F70F: 'AWS::Logs::LogGroup',
};
const SES_IDENTITY = { EmailDeliveryIdentityBB30311F: 'AWS::SES::EmailIdentity' };
/** edgeProtection=true, in the service stack and in the us-east-1 edge stack. */
const EDGE = {
  OriginVerifySecret1DED2FB3: 'AWS::SecretsManager::Secret',
  EdgeDistribution0060737B: 'AWS::CloudFront::Distribution',
};
const EDGE_STACK = { WebAcl: 'AWS::WAFv2::WebACL', WafLogsF9F75746: 'AWS::Logs::LogGroup' };

const DEFAULTS = { ...ALWAYS, ...USERS_TABLE, ...EVENTS, ...EVENT_BUS };
const EXPECTED: Record<string, { stack: Record<string, string>; edgeStack?: Record<string, string> }> = {
  dev: { stack: DEFAULTS },
  'prod-every-option': {
    stack: { ...ALWAYS, ...EVENTS, ...EVENT_BUS, ...SES, ...SES_IDENTITY, ...EDGE },
    edgeStack: EDGE_STACK,
  },
  prod: { stack: { ...DEFAULTS, ...SES, ...SES_IDENTITY } },
  'prod-smtp': { stack: DEFAULTS },
  'email-ses-imported-identity': { stack: { ...DEFAULTS, ...SES } },
  'imported-users-table': { stack: { ...ALWAYS, ...EVENTS, ...EVENT_BUS } },
  'events-off': { stack: { ...ALWAYS, ...USERS_TABLE } },
  'events-existing-bus': { stack: { ...ALWAYS, ...USERS_TABLE, ...EVENTS, ...SES, ...SES_IDENTITY } },
  'edge-protection': { stack: { ...DEFAULTS, ...EDGE }, edgeStack: EDGE_STACK },
};

const statefulIn = (template: Template | undefined) =>
  Object.fromEntries(
    Object.entries((template?.toJSON().Resources ?? {}) as Record<string, { Type: string }>)
      .filter(([, resource]) => STATEFUL_TYPES.has(resource.Type))
      .map(([id, resource]) => [id, resource.Type]),
  );

describe('stateful logical IDs', () => {
  it('are pinned for every main variant', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(Object.keys(VARIANTS).sort());
  });

  it.each(Object.keys(VARIANTS))('%s: keep every stateful resource under its logical ID', (name) => {
    // The variants assume PasswordChanged events on, their default; the synth helper turns them off.
    const built = synth({ passwordChangedEvents: 'true', ...VARIANTS[name] });

    expect(statefulIn(built.template)).toEqual(EXPECTED[name]?.stack);
    expect(statefulIn(built.edgeTemplate)).toEqual(EXPECTED[name]?.edgeStack ?? {});
  });
});
