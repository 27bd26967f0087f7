import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { CorsHttpMethod, HttpApi, HttpMethod, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import {
  AttributeType,
  BillingMode,
  type ITable,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { METRIC_NAMESPACE, METRICS } from '../lib/audit';
import { TOKEN_TABLE, USERS_TABLE } from '../lib/table-schema';
import { BUNDLING } from './bundling';
import { EmailDelivery } from './email-delivery';
import { PasswordEvents } from './password-events';
import type { Settings } from './settings';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ENTRY = {
  request: join(ROOT, 'functions/request-reset.ts'),
  confirm: join(ROOT, 'functions/confirm-reset.ts'),
} as const;
export const ROUTE_PATHS = {
  request: '/api/auth/password-reset/request',
  confirm: '/api/auth/password-reset/confirm',
} as const;

/** The newest Node.js runtime this aws-cdk-lib offers. */
export const LAMBDA_RUNTIME = Runtime.NODEJS_24_X;

/** The users-table attributes a reset may write, and the one it may read. */
const PASSWORD_ATTRIBUTES = [
  USERS_TABLE.partitionKey,
  'passwordHash',
  'passwordChangedAt',
  'credentialVersion',
];
const READABLE_USER_ATTRIBUTES = [USERS_TABLE.partitionKey, USERS_TABLE.emailAttribute, 'credentialVersion'];
const SERVICE_NAME = 'password-reset';

export interface PasswordResetStackProps extends StackProps {
  settings: Settings;
}

export class PasswordResetStack extends Stack {
  readonly api: HttpApi;
  readonly requestFunction: NodejsFunction;
  readonly confirmFunction: NodejsFunction;

  constructor(scope: Construct, id: string, props: PasswordResetStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const prod = settings.stage === 'prod';
    const removalPolicy = prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const retention = prod ? RetentionDays.THREE_MONTHS : RetentionDays.TWO_WEEKS;

    // Tokens and rate-limit counters. TTL only cleans up; expiry is checked on every read.
    const tokenTable = new Table(this, 'TokenTable', {
      partitionKey: { name: TOKEN_TABLE.partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TOKEN_TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      deletionProtection: prod,
      removalPolicy,
      // New outbox items reach the PasswordChanged publisher through this stream.
      ...(settings.passwordChangedEvents ? { stream: StreamViewType.NEW_IMAGE } : {}),
    });

    const { usersTable, emailIndexName } = this.usersTable(settings, prod, removalPolicy);

    const killSwitch = new StringParameter(this, 'EmailKillSwitch', {
      parameterName: `/password-reset/${settings.stage}/email-kill-switch`,
      description:
        'Email kill-switch: {"enabled": boolean, "dryRun": boolean}. Read by both functions, cached 30 s.',
      stringValue: JSON.stringify({ enabled: true, dryRun: false }),
    });

    const environment = {
      TOKEN_TABLE_NAME: tokenTable.tableName,
      USERS_TABLE_NAME: usersTable.tableName,
      USERS_EMAIL_INDEX_NAME: emailIndexName,
      KILL_SWITCH_PARAMETER_NAME: killSwitch.parameterName,
      RESET_LINK_TEMPLATE: settings.resetLinkTemplate,
      TOKEN_TTL_MINUTES: String(settings.tokenTtlMinutes),
      BCRYPT_COST: String(settings.bcryptCost),
      REQUEST_RESPONSE_FLOOR_MS: String(settings.requestResponseFloorMs),
      // A per-stack salt: pseudonymous account keys differ between deployments.
      ACCOUNT_KEY_SALT: `${this.stackName}-${this.node.addr}`,
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
      // Source maps ship with the bundle but are not enabled: --enable-source-maps parses the
      // map at load time, a cold-start cost. Symbolicate offline, or set NODE_OPTIONS to opt in.
    };

    this.requestFunction = this.handler('RequestReset', {
      entry: ENTRY.request,
      memorySize: settings.requestMemoryMb,
      environment,
      retention,
      removalPolicy,
      tracing: settings.tracing,
    });
    // bcrypt at cost 12 is pure CPU; Lambda's CPU share grows with memory, so confirm gets more.
    this.confirmFunction = this.handler('ConfirmReset', {
      entry: ENTRY.confirm,
      memorySize: settings.confirmMemoryMb,
      environment,
      retention,
      removalPolicy,
      tracing: settings.tracing,
    });

    this.grantLeastPrivilege(tokenTable, usersTable, emailIndexName, killSwitch);
    // Explicit either way: with events off, confirm writes no outbox item.
    this.confirmFunction.addEnvironment('PASSWORD_CHANGED_EVENTS', String(settings.passwordChangedEvents));
    if (settings.passwordChangedEvents) {
      const events = new PasswordEvents(this, 'PasswordEvents', {
        stage: settings.stage,
        tokenTable,
        confirmFunction: this.confirmFunction,
        eventBusName: settings.eventBusName,
        alarmTopicArn: settings.alarmTopicArn,
        retention,
        removalPolicy,
        tracing: settings.tracing,
      });
      new CfnOutput(this, 'EventBusName', { value: events.bus.eventBusName });
    }
    // Email delivery (infra/email-delivery.ts): queue, sender, DLQ, SES or SMTP, bounces, alarms.
    new EmailDelivery(this, 'EmailDelivery', {
      settings,
      tokenTable,
      killSwitch,
      environment,
      producers: [this.requestFunction, this.confirmFunction],
      suppressionReaders: [this.requestFunction],
      retention,
      removalPolicy,
    });
    this.api = this.httpApi(settings, retention, removalPolicy);
    this.alarms(settings);

    new CfnOutput(this, 'ApiUrl', {
      value: this.api.apiEndpoint,
      description: 'Base URL of the two reset endpoints',
    });
    new CfnOutput(this, 'KillSwitchParameterName', { value: killSwitch.parameterName });
    new CfnOutput(this, 'TokenTableName', { value: tokenTable.tableName });
    new CfnOutput(this, 'UsersTableName', { value: usersTable.tableName });
  }

  /** Creates the users table, or imports the operator's existing one by name. */
  private usersTable(settings: Settings, prod: boolean, removalPolicy: RemovalPolicy) {
    if (settings.existingUsersTableName) {
      return {
        usersTable: Table.fromTableAttributes(this, 'UsersTable', {
          tableName: settings.existingUsersTableName,
          globalIndexes: [settings.existingUsersEmailIndexName ?? USERS_TABLE.defaultEmailIndexName],
        }) as ITable,
        emailIndexName: settings.existingUsersEmailIndexName ?? USERS_TABLE.defaultEmailIndexName,
      };
    }
    const table = new Table(this, 'UsersTable', {
      partitionKey: { name: USERS_TABLE.partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      deletionProtection: prod,
      removalPolicy,
    });
    table.addGlobalSecondaryIndex({
      indexName: USERS_TABLE.defaultEmailIndexName,
      partitionKey: { name: USERS_TABLE.emailAttribute, type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });
    return { usersTable: table as ITable, emailIndexName: USERS_TABLE.defaultEmailIndexName };
  }

  /** One function: its own role (no managed policies) and its own log group with retention. */
  private handler(
    id: string,
    options: {
      entry: string;
      memorySize: number;
      environment: Record<string, string>;
      retention: RetentionDays;
      removalPolicy: RemovalPolicy;
      tracing: boolean;
    },
  ): NodejsFunction {
    const logGroup = new LogGroup(this, `${id}Logs`, {
      retention: options.retention,
      removalPolicy: options.removalPolicy,
    });
    const role = new Role(this, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the ${id} function; data permissions are added statement by statement.`,
    });
    logGroup.grantWrite(role);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(logGroup.node.defaultChild as never)}.Arn>:*]`,
      reason:
        "Lambda names its log streams at run time; the grant is scoped to this function's own log group.",
    });
    const fn = new NodejsFunction(this, id, {
      entry: options.entry,
      handler: 'handler',
      runtime: LAMBDA_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: options.memorySize,
      timeout: Duration.seconds(10),
      role,
      logGroup,
      environment: options.environment,
      tracing: options.tracing ? Tracing.ACTIVE : Tracing.DISABLED,
      bundling: BUNDLING,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      projectRoot: ROOT,
    });
    if (options.tracing) {
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray PutTraceSegments and PutTelemetryRecords do not support resource-level permissions.',
      });
    }
    return fn;
  }

  /**
   * Least privilege, per function, with no wildcard actions or data resources:
   * - request: query the email index, write token items and counters;
   * - confirm: read and consume tokens, read a user's email, update only the password fields.
   * LeadingKeys pins each function to the item kinds it owns in the token table.
   */
  private grantLeastPrivilege(
    tokenTable: Table,
    usersTable: ITable,
    emailIndexName: string,
    killSwitch: StringParameter,
  ) {
    const request = this.requestFunction.role as Role;
    const confirm = this.confirmFunction.role as Role;
    const tokenKeys = (prefixes: string[]) => ({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((prefix) => `${prefix}#*`) },
    });

    request.addToPolicy(
      new PolicyStatement({
        sid: 'QueryUsersByEmail',
        actions: ['dynamodb:Query'],
        resources: [`${usersTable.tableArn}/index/${emailIndexName}`],
      }),
    );
    request.addToPolicy(
      new PolicyStatement({
        sid: 'WriteTokensAndCounters',
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [tokenTable.tableArn],
        conditions: tokenKeys(['token', 'active', 'rate']),
      }),
    );

    confirm.addToPolicy(
      new PolicyStatement({
        sid: 'ReadAndConsumeTokens',
        actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem'],
        resources: [tokenTable.tableArn],
        conditions: tokenKeys(['token', 'active', 'rate']),
      }),
    );
    confirm.addToPolicy(
      new PolicyStatement({
        sid: 'ReadUserEmail',
        actions: ['dynamodb:BatchGetItem'],
        resources: [usersTable.tableArn],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': READABLE_USER_ATTRIBUTES },
          StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        },
      }),
    );
    confirm.addToPolicy(
      new PolicyStatement({
        sid: 'UpdatePasswordFieldsOnly',
        actions: ['dynamodb:UpdateItem'],
        resources: [usersTable.tableArn],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': PASSWORD_ATTRIBUTES },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE', 'UPDATED_OLD', 'UPDATED_NEW'] },
        },
      }),
    );

    for (const role of [request, confirm]) {
      role.addToPolicy(
        new PolicyStatement({
          sid: 'ReadKillSwitch',
          effect: Effect.ALLOW,
          actions: ['ssm:GetParameter'],
          resources: [killSwitch.parameterArn],
        }),
      );
    }
  }

  private httpApi(settings: Settings, retention: RetentionDays, removalPolicy: RemovalPolicy): HttpApi {
    const api = new HttpApi(this, 'Api', {
      description: 'Password reset: POST request and confirm, nothing else',
      createDefaultStage: false,
      corsPreflight:
        settings.corsOrigins.length > 0
          ? {
              allowOrigins: settings.corsOrigins,
              allowMethods: [CorsHttpMethod.POST],
              allowHeaders: ['content-type'],
              maxAge: Duration.hours(1),
            }
          : undefined,
    });
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention, removalPolicy });
    api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: settings.throttleRateLimit, burstLimit: settings.throttleBurstLimit },
      // JSON access log with no request or response bodies: the body holds the email or the token.
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            integrationLatency: '$context.integrationLatency',
            latency: '$context.responseLatency',
            userAgent: '$context.identity.userAgent',
          }),
        ),
      },
    });
    api.addRoutes({
      path: ROUTE_PATHS.request,
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration('RequestIntegration', this.requestFunction),
    });
    api.addRoutes({
      path: ROUTE_PATHS.confirm,
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration('ConfirmIntegration', this.confirmFunction),
    });
    Validations.of(api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Both endpoints are deliberately public and unauthenticated: a user who forgot the password has no credentials. Abuse is bounded by stage throttling and per-IP and per-account limits in the functions.',
    });
    return api;
  }

  private alarms(settings: Settings): void {
    const topic = settings.alarmTopicArn
      ? Topic.fromTopicArn(this, 'AlarmTopic', settings.alarmTopicArn)
      : undefined;
    const alarm = (id: string, props: ConstructorParameters<typeof Alarm>[2]) => {
      const created = new Alarm(this, id, { treatMissingData: TreatMissingData.NOT_BREACHING, ...props });
      if (topic) created.addAlarmAction(new SnsAction(topic));
      return created;
    };
    const period = Duration.minutes(5);
    const service = { service: SERVICE_NAME };

    alarm('Api5xxRate', {
      alarmDescription: 'More than 1% of API requests answered 5xx over 5 minutes (with at least 5 errors).',
      metric: new MathExpression({
        expression: 'IF(errors >= 5, 100 * errors / MAX([errors, requests]), 0)',
        usingMetrics: {
          errors: this.api.metricServerError({ period }),
          requests: this.api.metricCount({ period }),
        },
        period,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    for (const [name, fn] of [
      ['Request', this.requestFunction],
      ['Confirm', this.confirmFunction],
    ] as const) {
      alarm(`${name}FunctionErrors`, {
        alarmDescription: `The ${name.toLowerCase()} function raised unhandled errors.`,
        metric: fn.metricErrors({ period }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
      alarm(`${name}FunctionThrottles`, {
        alarmDescription: `The ${name.toLowerCase()} function was throttled (account concurrency exhausted).`,
        metric: fn.metricThrottles({ period }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
    }
    alarm('KillSwitchUnavailable', {
      alarmDescription:
        'The email kill-switch parameter could not be read or parsed: reset email is failing closed.',
      metric: new Metric({
        namespace: METRIC_NAMESPACE,
        metricName: METRICS.killSwitchUnavailable,
        dimensionsMap: service,
        statistic: 'Sum',
        period,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    alarm('ResponseFloorExceeded', {
      alarmDescription:
        'Request handling took longer than the response-time floor: timing may reveal which emails have accounts.',
      metric: new Metric({
        namespace: METRIC_NAMESPACE,
        metricName: METRICS.responseFloorExceeded,
        dimensionsMap: service,
        statistic: 'Sum',
        period,
      }),
      threshold: 5,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    alarm('ResetStoreErrors', {
      alarmDescription:
        'Token writes failed after the account lookup: known users are not receiving reset email.',
      metric: new Metric({
        namespace: METRIC_NAMESPACE,
        metricName: METRICS.resetEmailSuppressed,
        dimensionsMap: { ...service, reason: 'store_error' },
        statistic: 'Sum',
        period,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
  }
}
