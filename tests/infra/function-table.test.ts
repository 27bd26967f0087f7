import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { ServiceAlarms } from '../../infra/alarms';
import { CanaryDeployments } from '../../infra/canary-deployments';
import { ServiceData } from '../../infra/data';
import { ServiceApi } from '../../infra/http-api';
import { KillSwitchParameter } from '../../infra/kill-switch';
import { ServicePermissions } from '../../infra/permissions';
import { ServiceSecrets } from '../../infra/secrets';
import { addServiceAlarms } from '../../infra/service-alarms';
import { buildFunctions, type FunctionSpec, serviceFunctions } from '../../infra/service-functions';
import { readSettings } from '../../infra/settings';
import { TOKEN_KEY_PREFIXES } from '../../lib/table-schema';

/** The constructs the stack composes, fed a table with a queue-fed function beside a routed one. */
function synthWithWorker() {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'FunctionTable');
  const settings = readSettings({});
  const removalPolicy = RemovalPolicy.DESTROY;
  const [request] = serviceFunctions(settings);
  const worker: FunctionSpec = {
    id: 'ResetWorker',
    name: 'ResetWorker',
    // Any handler will do: bundling is off.
    entry: 'functions/email-sender.ts',
    memoryMb: 512,
    timeoutSeconds: 20,
    reservedConcurrency: 5,
    tokenItems: [
      { sid: 'ClaimWork', actions: ['dynamodb:UpdateItem'], prefixes: [TOKEN_KEY_PREFIXES.token] },
    ],
    users: ['readEmail'],
  };
  const alarms = new ServiceAlarms(stack, 'Monitoring', { alarmTopicArn: undefined, dashboardName: 'table' });
  const data = new ServiceData(stack, 'Data', { settings, removalPolicy });
  const killSwitch = new KillSwitchParameter(stack, 'KillSwitch', {
    parameterName: '/k',
    deleteWithStack: true,
  });
  const secrets = new ServiceSecrets(stack, 'Secrets', { edgeProtection: false, removalPolicy });
  const functions = buildFunctions(stack, [request as FunctionSpec, worker], {
    environment: {},
    retention: RetentionDays.ONE_DAY,
    removalPolicy,
    tracing: false,
  });
  new ServicePermissions(stack, 'Permissions', { functions, data, killSwitch, secrets });
  functions[1]?.fn.addQueueSource(new Queue(stack, 'WorkQueue'), { batchSize: 1 });
  const api = new ServiceApi(stack, 'Api', {
    corsOrigins: [],
    throttleRateLimit: 10,
    throttleBurstLimit: 10,
    functions,
    retention: RetentionDays.ONE_DAY,
    removalPolicy,
  });
  const rollbackAlarms = addServiceAlarms(alarms, { settings, api, functions, data });
  new CanaryDeployments(stack, 'Canaries', { functions, rollbackAlarms });
  return Template.fromStack(stack);
}

describe('a function without a route in the function table', () => {
  const template = synthWithWorker();
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: never }>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  it('gets no route, no alias and no canary, and the routed one keeps all three', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route').map(
      ([, r]) => (r.Properties as { RouteKey: string }).RouteKey,
    );

    expect(routes).toEqual(['POST /api/auth/password-reset/request']);
    expect(ofType('AWS::Lambda::Alias').map(([id]) => id)).toEqual([
      expect.stringMatching(/^RequestResetAliaslive/),
    ]);
    expect(ofType('AWS::CodeDeploy::DeploymentGroup').map(([id]) => id)).toEqual([
      expect.stringMatching(/^RequestDeployment/),
    ]);
  });

  it('is fed by its queue, and gets its grants, the kill-switch and the secrets on its own role', () => {
    const statements = JSON.stringify(
      ofType('AWS::IAM::Policy')
        .filter(([id]) => id.startsWith('ResetWorkerRole'))
        .map(([, policy]) => policy),
    );

    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    for (const sid of ['ClaimWork', 'ReadUserEmail', 'ReadKillSwitch', 'ReadServiceSecrets'])
      expect(statements).toContain(`"Sid":"${sid}"`);
    expect(statements).toContain('"dynamodb:LeadingKeys":["token#*"]');
    expect(statements).toContain('sqs:ReceiveMessage');
  });

  it('gets the alarms of every function, and its errors roll a canary back', () => {
    const alarmIds = ofType('AWS::CloudWatch::Alarm').map(([id]) => id);
    const group = ofType('AWS::CodeDeploy::DeploymentGroup')[0]?.[1];

    for (const alarm of [
      'FunctionErrors',
      'DurationNearTimeout',
      'FunctionThrottles',
      'ConcurrencyNearReservation',
    ])
      expect(alarmIds).toContainEqual(expect.stringMatching(new RegExp(`^MonitoringResetWorker${alarm}`)));
    expect(JSON.stringify(group)).toContain('MonitoringResetWorkerFunctionErrors');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: 'The reset worker function raised unhandled errors or timed out.',
    });
  });
});
