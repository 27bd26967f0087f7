import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { METRIC_NAMESPACE } from '../lib/audit';
import { SERVICE_NAME } from '../lib/telemetry';
import { ServiceAlarms } from './alarms';
import { CanaryDeployments } from './canary-deployments';
import { ServiceData } from './data';
import { EdgeDistribution } from './edge';
import { EmailDelivery } from './email-delivery';
import { ServiceApi } from './http-api';
import { KillSwitchParameter } from './kill-switch';
import { PasswordEvents } from './password-events';
import { ServicePermissions } from './permissions';
import { ServiceSecrets } from './secrets';
import { addServiceAlarms } from './service-alarms';
import type { ServiceFunction } from './service-function';
import { buildFunctions, functionsThat, serviceFunctions } from './service-functions';
import { checkFunctionEnvironment, runtimeEnvironment, type Settings } from './settings';

export interface PasswordResetStackProps extends StackProps {
  settings: Settings;
  /** The WAF web ACL (us-east-1) to put in front of the API, when edgeProtection is on. */
  edgeWebAclArn?: string;
}

/**
 * The service: its tables and secrets, the functions of the table in infra/service-functions.ts
 * with their grants, routes, alarms and canaries, email delivery, PasswordChanged events, and
 * CloudFront with edge protection. Each concern is its own construct; this file composes them.
 */
export class PasswordResetStack extends Stack {
  readonly data: ServiceData;
  readonly killSwitch: KillSwitchParameter;
  readonly secrets: ServiceSecrets;
  /** The functions of the table, by id (`RequestReset`, ...). */
  readonly functions: Record<string, ServiceFunction>;
  readonly api: ServiceApi;
  /** Alarms (ALARM and OK to the topic) and the dashboard. */
  readonly alarms: ServiceAlarms;
  readonly edge: EdgeDistribution | undefined;

  constructor(scope: Construct, id: string, props: PasswordResetStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const prod = settings.stage === 'prod';
    const removalPolicy = prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const retention = prod ? RetentionDays.THREE_MONTHS : RetentionDays.TWO_WEEKS;
    const dashboardName = `password-reset-${settings.stage}`;
    this.alarms = new ServiceAlarms(this, 'Monitoring', {
      alarmTopicArn: settings.alarmTopicArn,
      dashboardName,
    });

    const data = new ServiceData(this, 'Data', { settings, removalPolicy });
    this.data = data;
    // Created once, then the operator's: redeploys never reset it (infra/kill-switch.ts).
    const killSwitch = new KillSwitchParameter(this, 'EmailKillSwitch', {
      parameterName: `/password-reset/${settings.stage}/email-kill-switch`,
      deleteWithStack: !prod,
    });
    this.killSwitch = killSwitch;
    const secrets = new ServiceSecrets(this, 'Secrets', {
      edgeProtection: settings.edgeProtection,
      removalPolicy,
    });
    this.secrets = secrets;

    // What every function of the service gets, the email delivery's included.
    const environment: Record<string, string> = {
      TOKEN_TABLE_NAME: data.tokenTable.tableName,
      USERS_TABLE_NAME: data.usersTable.tableName,
      USERS_EMAIL_INDEX_NAME: data.emailIndexName,
      KILL_SWITCH_PARAMETER_NAME: killSwitch.parameterName,
      ...runtimeEnvironment(settings),
      ...secrets.environment,
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
      // Source maps ship with the bundle but are not enabled: --enable-source-maps parses the
      // map at load time, a cold-start cost. Symbolicate offline, or set NODE_OPTIONS to opt in.
    };
    const specs = serviceFunctions(settings);
    // The functions' own settings schema, at synth: a bad value fails here, not at every cold start.
    checkFunctionEnvironment(specs.map((spec) => spec.name.toLowerCase()).join(' and '), environment);

    const functions = buildFunctions(this, specs, {
      environment,
      retention,
      removalPolicy,
      tracing: settings.tracing,
    });
    this.functions = Object.fromEntries(functions.map(({ spec, fn }) => [spec.id, fn]));
    new ServicePermissions(this, 'Permissions', { functions, data, killSwitch, secrets });

    // Explicit either way: with events off, these functions write no outbox item.
    for (const fn of functionsThat(functions, 'writesOutbox'))
      fn.addEnvironment('PASSWORD_CHANGED_EVENTS', String(settings.passwordChangedEvents));
    if (settings.passwordChangedEvents) {
      const events = new PasswordEvents(this, 'PasswordEvents', {
        stage: settings.stage,
        tokenTable: data.tokenTable,
        outboxWriters: functionsThat(functions, 'writesOutbox'),
        eventBusName: settings.eventBusName,
        alarmTopicArn: settings.alarmTopicArn,
        retention,
        removalPolicy,
        tracing: settings.tracing,
      });
      new CfnOutput(this, 'EventBusName', { value: events.bus.eventBusName });
    }
    const emailDelivery = new EmailDelivery(this, 'EmailDelivery', {
      settings,
      tokenTable: data.tokenTable,
      killSwitch: killSwitch.parameter,
      environment,
      producers: functionsThat(functions, 'sendsEmail'),
      suppressionReaders: functionsThat(functions, 'readsSuppressions'),
      retention,
      removalPolicy,
    });
    // Its functions get the shared environment, secret ARNs included: they resolve them too.
    for (const fn of [emailDelivery.sender, emailDelivery.eventsHandler]) if (fn) secrets.grantRead(fn);

    this.api = new ServiceApi(this, 'Api', {
      corsOrigins: settings.corsOrigins,
      throttleRateLimit: settings.throttleRateLimit,
      throttleBurstLimit: settings.throttleBurstLimit,
      functions,
      retention,
      removalPolicy,
    });
    if (settings.edgeProtection) {
      this.edge = new EdgeDistribution(this, 'Edge', {
        api: this.api,
        webAclArn: props.edgeWebAclArn as string,
        domainName: settings.domainName as string,
        certificateArn: settings.certificateArn as string,
        originVerifySecret: secrets.originVerify as Secret,
      });
    }
    const rollbackAlarms = addServiceAlarms(this.alarms, { settings, api: this.api, functions, data });
    if (prod) new CanaryDeployments(this, 'Canaries', { functions, rollbackAlarms });

    new CfnOutput(this, 'ApiUrl', {
      value: settings.edgeProtection ? `https://${settings.domainName}` : this.api.apiEndpoint,
      description: 'Base URL of the two reset endpoints',
    });
    new CfnOutput(this, 'KillSwitchParameterName', { value: killSwitch.parameterName });
    new CfnOutput(this, 'TokenTableName', { value: data.tokenTable.tableName });
    new CfnOutput(this, 'UsersTableName', { value: data.usersTable.tableName });
    new CfnOutput(this, 'DashboardName', { value: dashboardName });
  }
}
