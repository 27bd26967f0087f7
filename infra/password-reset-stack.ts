import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { CorsHttpMethod, HttpApi, HttpMethod, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  type Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { LambdaDeploymentConfig, LambdaDeploymentGroup } from 'aws-cdk-lib/aws-codedeploy';
import {
  AttributeType,
  BillingMode,
  type ITable,
  Operation,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Alias } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, LogGroup, MetricFilter, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStringParameter } from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { METRIC_NAMESPACE, METRICS, SERVICE_NAME } from '../lib/audit';
import { ROUTES } from '../lib/http/routes';
import { TOKEN_KEY_PREFIXES, TOKEN_TABLE, USERS_TABLE } from '../lib/table-schema';
import { ALARM_PERIOD, ServiceAlarms, serviceMetric } from './alarms';
import { EdgeDistribution } from './edge';
import { EmailDelivery } from './email-delivery';
import { KillSwitchParameter } from './kill-switch';
import { PasswordEvents } from './password-events';
import { ServiceFunction } from './service-function';
import { checkFunctionEnvironment, runtimeEnvironment, type Settings } from './settings';

export const ENTRY = {
  request: 'functions/request-reset.ts',
  confirm: 'functions/confirm-reset.ts',
} as const;

/** The users-table attributes a reset may write, and the one it may read. */
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

/** The token-table item kinds (partition key prefixes, see lib/) each function may touch, per action. */
const { token, active, flow, rate } = TOKEN_KEY_PREFIXES;
const TOKEN_ITEM_ACCESS = {
  request: [
    // Code flows: real ones with the active pointer, and phantom ones alone.
    { sid: 'WriteTokens', actions: ['dynamodb:PutItem'], prefixes: [token, active, flow] },
    { sid: 'CountRequests', actions: ['dynamodb:UpdateItem'], prefixes: [rate] },
  ],
  confirm: [
    // A refused code charge reads its flow once, for the audit reason.
    { sid: 'ReadTokens', actions: ['dynamodb:GetItem'], prefixes: [token, flow] },
    // The claim before bcrypt and its release are conditional updates of the token or flow item;
    // so are a code's attempt charge and its refund.
    { sid: 'ClaimTokens', actions: ['dynamodb:UpdateItem'], prefixes: [token, flow] },
    { sid: 'ReadActivePointers', actions: ['dynamodb:BatchGetItem'], prefixes: [active] },
    { sid: 'ConsumeTokens', actions: ['dynamodb:DeleteItem'], prefixes: [token, active, flow] },
    { sid: 'CountConfirms', actions: ['dynamodb:UpdateItem'], prefixes: [rate] },
  ],
} as const;

export interface PasswordResetStackProps extends StackProps {
  settings: Settings;
  /** The WAF web ACL (us-east-1) to put in front of the API, when edgeProtection is on. */
  edgeWebAclArn?: string;
}

export class PasswordResetStack extends Stack {
  readonly api: HttpApi;
  readonly requestFunction: ServiceFunction;
  readonly confirmFunction: ServiceFunction;
  /** What the API invokes: prod shifts traffic between versions on these, with CodeDeploy. */
  readonly requestAlias: Alias;
  readonly confirmAlias: Alias;
  readonly tokenTable: Table;
  readonly usersTable: ITable;
  readonly killSwitch: IStringParameter;
  readonly accountKeySecret: Secret;
  /** The secrets behind the *_SECRET_ARN variables in the functions' environment. */
  readonly secretSettings: Secret[];
  /** Alarms (ALARM and OK to the topic) and the dashboard; other constructs add theirs here. */
  readonly alarms: ServiceAlarms;
  readonly edge: EdgeDistribution | undefined;

  constructor(scope: Construct, id: string, props: PasswordResetStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const prod = settings.stage === 'prod';
    const removalPolicy = prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const retention = prod ? RetentionDays.THREE_MONTHS : RetentionDays.TWO_WEEKS;
    this.alarms = new ServiceAlarms(this, 'Monitoring', {
      alarmTopicArn: settings.alarmTopicArn,
      dashboardName: `password-reset-${settings.stage}`,
    });

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
    this.tokenTable = tokenTable;

    const { usersTable, emailIndexName } = this.createUsersTable(settings, prod, removalPolicy);
    this.usersTable = usersTable;

    // Created once, then the operator's: redeploys never reset it (infra/kill-switch.ts).
    const killSwitchResource = new KillSwitchParameter(this, 'EmailKillSwitch', {
      parameterName: `/password-reset/${settings.stage}/email-kill-switch`,
      deleteWithStack: !prod,
    });
    const killSwitch = killSwitchResource.parameter;
    this.killSwitch = killSwitch;

    // The HMAC key for pseudonymous account and IP keys: random per deployment, read at cold start.
    this.accountKeySecret = new Secret(this, 'AccountKeySecret', {
      description: 'HMAC key for pseudonymous account and IP keys in logs and rate-limit counters',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });
    const originVerifySecret = settings.edgeProtection
      ? new Secret(this, 'OriginVerifySecret', {
          description: 'Sent by CloudFront to the API; requests without it are refused by the functions',
          generateSecretString: { passwordLength: 48, excludePunctuation: true },
          removalPolicy,
        })
      : undefined;
    for (const secret of [this.accountKeySecret, originVerifySecret]) {
      if (!secret) continue;
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SMG4',
        reason:
          'Not rotated automatically: a new account key would reset every per-account counter mid-window, and a new origin secret must reach CloudFront and the functions together. Rotate by replacing the secret and redeploying.',
      });
    }

    const environment: Record<string, string> = {
      TOKEN_TABLE_NAME: tokenTable.tableName,
      USERS_TABLE_NAME: usersTable.tableName,
      USERS_EMAIL_INDEX_NAME: emailIndexName,
      KILL_SWITCH_PARAMETER_NAME: killSwitch.parameterName,
      ...runtimeEnvironment(settings),
      ACCOUNT_KEY_SECRET_ARN: this.accountKeySecret.secretArn,
      ...(originVerifySecret ? { ORIGIN_VERIFY_SECRET_ARN: originVerifySecret.secretArn } : {}),
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
      // Source maps ship with the bundle but are not enabled: --enable-source-maps parses the
      // map at load time, a cold-start cost. Symbolicate offline, or set NODE_OPTIONS to opt in.
    };
    // The functions' own settings schema, at synth: a bad value fails here, not at every cold start.
    checkFunctionEnvironment('request and confirm', environment);

    this.requestFunction = this.createFunction('RequestReset', {
      entry: ENTRY.request,
      memorySize: settings.requestMemoryMb,
      timeoutSeconds: settings.requestTimeoutSeconds,
      reservedConcurrency: settings.requestReservedConcurrency,
      environment,
      retention,
      removalPolicy,
      tracing: settings.tracing,
    });
    // bcrypt at cost 12 is pure CPU; Lambda's CPU share grows with memory, so confirm gets more.
    this.confirmFunction = this.createFunction('ConfirmReset', {
      entry: ENTRY.confirm,
      memorySize: settings.confirmMemoryMb,
      timeoutSeconds: settings.confirmTimeoutSeconds,
      reservedConcurrency: settings.confirmReservedConcurrency,
      environment,
      retention,
      removalPolicy,
      tracing: settings.tracing,
    });
    // The parameter exists before a function can first read it.
    this.requestFunction.node.addDependency(killSwitchResource);
    this.confirmFunction.node.addDependency(killSwitchResource);
    this.requestAlias = this.requestFunction.addAlias('live');
    this.confirmAlias = this.confirmFunction.addAlias('live');

    this.secretSettings = [this.accountKeySecret, ...(originVerifySecret ? [originVerifySecret] : [])];
    this.grantLeastPrivilege(settings, emailIndexName);
    // Explicit either way: with events off, confirm writes no outbox item.
    this.confirmFunction.addEnvironment('PASSWORD_CHANGED_EVENTS', String(settings.passwordChangedEvents));
    if (settings.passwordChangedEvents) {
      const events = new PasswordEvents(this, 'PasswordEvents', {
        stage: settings.stage,
        tokenTable,
        outboxWriters: [this.confirmFunction],
        eventBusName: settings.eventBusName,
        alarmTopicArn: settings.alarmTopicArn,
        retention,
        removalPolicy,
        tracing: settings.tracing,
      });
      new CfnOutput(this, 'EventBusName', { value: events.bus.eventBusName });
    }
    // Email delivery (infra/email-delivery.ts): queue, sender, DLQ, SES or SMTP, bounces, alarms.
    const emailDelivery = new EmailDelivery(this, 'EmailDelivery', {
      settings,
      tokenTable,
      killSwitch,
      environment,
      producers: [this.requestFunction, this.confirmFunction],
      suppressionReaders: [this.requestFunction],
      retention,
      removalPolicy,
    });
    // Its functions get this stack's environment, secret ARNs included: they resolve them too.
    for (const fn of [emailDelivery.sender, emailDelivery.eventsHandler]) {
      if (fn) this.grantSecretSettings(fn.role as Role);
    }
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention, removalPolicy });
    this.api = this.httpApi(settings, accessLogs);
    if (settings.edgeProtection) {
      this.edge = new EdgeDistribution(this, 'Edge', {
        api: this.api,
        webAclArn: props.edgeWebAclArn as string,
        domainName: settings.domainName as string,
        certificateArn: settings.certificateArn as string,
        originVerifySecret: originVerifySecret as Secret,
      });
    }
    const rollbackAlarms = this.createAlarms(settings, accessLogs, emailIndexName);
    if (prod) this.canaryDeployments(rollbackAlarms);

    new CfnOutput(this, 'ApiUrl', {
      value: settings.edgeProtection ? `https://${settings.domainName}` : this.api.apiEndpoint,
      description: 'Base URL of the two reset endpoints',
    });
    new CfnOutput(this, 'KillSwitchParameterName', { value: killSwitch.parameterName });
    new CfnOutput(this, 'TokenTableName', { value: tokenTable.tableName });
    new CfnOutput(this, 'UsersTableName', { value: usersTable.tableName });
    new CfnOutput(this, 'DashboardName', { value: `password-reset-${settings.stage}` });
  }

  /** Creates the users table, or imports the operator's existing one by name (and its KMS key). */
  private createUsersTable(settings: Settings, prod: boolean, removalPolicy: RemovalPolicy) {
    if (settings.existingUsersTableName) {
      const emailIndexName = settings.existingUsersEmailIndexName ?? USERS_TABLE.defaultEmailIndexName;
      return {
        usersTable: Table.fromTableAttributes(this, 'UsersTable', {
          tableName: settings.existingUsersTableName,
          globalIndexes: [emailIndexName],
          ...(settings.existingUsersTableKeyArn
            ? { encryptionKey: Key.fromKeyArn(this, 'UsersTableKey', settings.existingUsersTableKeyArn) }
            : {}),
        }),
        emailIndexName,
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
    return { usersTable: table as ITable, emailIndexName: USERS_TABLE.defaultEmailIndexName as string };
  }

  /** One of the service's own functions, invoked synchronously by API Gateway. */
  private createFunction(
    id: string,
    options: {
      entry: string;
      memorySize: number;
      timeoutSeconds: number;
      reservedConcurrency: number | undefined;
      environment: Record<string, string>;
      retention: RetentionDays;
      removalPolicy: RemovalPolicy;
      tracing: boolean;
    },
  ): ServiceFunction {
    const { timeoutSeconds, ...rest } = options;
    return new ServiceFunction(this, id, {
      ...rest,
      timeout: Duration.seconds(timeoutSeconds),
      whyNoDeadLetterQueue:
        'Invoked synchronously by API Gateway only: a failed invocation is answered to the caller (5xx, alarmed), there is no async event to dead-letter.',
    });
  }

  /**
   * Statements on the token table, pinned to item kinds by their partition key prefix.
   * Public so that other constructs (email delivery, events) grant their own item kinds the same way.
   */
  grantTokenItems(role: Role, sid: string, actions: readonly string[], prefixes: readonly string[]): void {
    role.addToPolicy(
      new PolicyStatement({
        sid,
        actions: [...actions],
        resources: [this.tokenTable.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((prefix) => `${prefix}*`) },
        },
      }),
    );
  }

  /**
   * Least privilege, per function and per action, with no wildcard actions or data resources:
   * - request: query the email index for two attributes, write tokens, count requests;
   * - confirm: read and consume tokens, read a user's email, update only the password fields.
   */
  private grantLeastPrivilege(settings: Settings, emailIndexName: string) {
    const request = this.requestFunction.role as Role;
    const confirm = this.confirmFunction.role as Role;
    const { usersTable } = this;

    for (const { sid, actions, prefixes } of TOKEN_ITEM_ACCESS.request)
      this.grantTokenItems(request, sid, actions, prefixes);
    for (const { sid, actions, prefixes } of TOKEN_ITEM_ACCESS.confirm)
      this.grantTokenItems(confirm, sid, actions, prefixes);

    request.addToPolicy(
      new PolicyStatement({
        sid: 'QueryUsersByEmail',
        actions: ['dynamodb:Query'],
        resources: [`${usersTable.tableArn}/index/${emailIndexName}`],
        // The Query names its attributes (lib/users/user-store.ts): an index that projects
        // more (an imported table) still yields only the id and the email.
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': INDEX_ATTRIBUTES },
          StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        },
      }),
    );
    // A token binds to the user's current address and credential version, read consistently.
    request.addToPolicy(
      new PolicyStatement({
        sid: 'ReadUserBinding',
        actions: ['dynamodb:GetItem'],
        resources: [usersTable.tableArn],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': READABLE_USER_ATTRIBUTES },
          StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        },
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

    // An imported table encrypted with a customer-managed key: DynamoDB uses it on the caller's behalf.
    if (settings.existingUsersTableKeyArn) {
      const viaDynamoDb = { StringEquals: { 'kms:ViaService': `dynamodb.${this.region}.${this.urlSuffix}` } };
      request.addToPolicy(
        new PolicyStatement({
          sid: 'DecryptUsersTable',
          actions: ['kms:Decrypt', 'kms:DescribeKey'],
          resources: [settings.existingUsersTableKeyArn],
          conditions: viaDynamoDb,
        }),
      );
      confirm.addToPolicy(
        new PolicyStatement({
          sid: 'DecryptAndEncryptUsersTable',
          actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
          resources: [settings.existingUsersTableKeyArn],
          conditions: viaDynamoDb,
        }),
      );
    }

    for (const role of [request, confirm]) {
      role.addToPolicy(
        new PolicyStatement({
          sid: 'ReadKillSwitch',
          actions: ['ssm:GetParameter'],
          resources: [this.killSwitch.parameterArn],
        }),
      );
      this.grantSecretSettings(role);
    }
  }

  /**
   * Lets a function read the secrets its environment names (lib/secrets.ts resolves them at cold
   * start). Any function given this stack's environment needs it.
   */
  grantSecretSettings(role: Role): void {
    role.addToPolicy(
      new PolicyStatement({
        sid: 'ReadServiceSecrets',
        actions: ['secretsmanager:GetSecretValue'],
        resources: this.secretSettings.map((secret) => secret.secretArn),
      }),
    );
  }

  private httpApi(settings: Settings, accessLogs: LogGroup): HttpApi {
    const api = new HttpApi(this, 'Api', {
      description: 'Password reset: POST request and confirm, nothing else',
      createDefaultStage: false,
      corsPreflight:
        settings.corsOrigins.length > 0
          ? {
              allowOrigins: settings.corsOrigins,
              allowMethods: [CorsHttpMethod.POST],
              allowHeaders: ['content-type'],
              // A browser may only read Retry-After from a 429 or 503 if the API exposes it.
              exposeHeaders: ['retry-after'],
              maxAge: Duration.hours(1),
            }
          : undefined,
    });
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
            // The function's own status ("-" when API Gateway answered without calling it, e.g. a throttle).
            functionStatus: '$context.integration.status',
            integrationStatus: '$context.integrationStatus',
            errorType: '$context.error.responseType',
            errorMessage: '$context.error.message',
            integrationError: '$context.integrationErrorMessage',
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
      path: ROUTES.request,
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration('RequestIntegration', this.requestAlias),
    });
    api.addRoutes({
      path: ROUTES.confirm,
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration('ConfirmIntegration', this.confirmAlias),
    });
    Validations.of(api).acknowledge({
      id: 'AwsSolutions::AwsSolutions-APIG4',
      reason:
        'Both endpoints are deliberately public and unauthenticated: a user who forgot the password has no credentials. Abuse is bounded by stage throttling and per-IP and per-account limits in the functions.',
    });
    return api;
  }

  /** Every alarm (runbook in the README), the dashboard, and the alarms a canary rolls back on. */
  private createAlarms(settings: Settings, accessLogs: LogGroup, emailIndexName: string): Alarm[] {
    const { alarms } = this;
    const period = ALARM_PERIOD;
    const api = this.api;

    const api5xx = alarms.add('Api5xxRate', {
      alarmDescription: 'More than 1% of API requests answered 5xx over 5 minutes (with at least 5 errors).',
      metric: new MathExpression({
        expression: 'IF(errors >= 5, 100 * errors / MAX([errors, requests]), 0)',
        usingMetrics: { errors: api.metricServerError({ period }), requests: api.metricCount({ period }) },
        period,
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    alarms.add('Api4xxRate', {
      alarmDescription:
        'Half or more of at least 100 API requests in 5 minutes answered 4xx: a client is sending junk, or a release broke the contract.',
      metric: new MathExpression({
        expression: 'IF(requests >= 100, 100 * errors / requests, 0)',
        usingMetrics: { errors: api.metricClientError({ period }), requests: api.metricCount({ period }) },
        period,
      }),
      threshold: 50,
    });
    alarms.add('ApiLatencyP99', {
      alarmDescription: `API p99 latency at or over ${settings.apiLatencyP99AlarmMs} ms for 3 periods of 5 minutes.`,
      metric: api.metricLatency({ period, statistic: 'p99' }),
      threshold: settings.apiLatencyP99AlarmMs,
      evaluationPeriods: 3,
    });

    // 429s, told apart by who answered them, from the access log.
    const rateLimitMetric = (metricName: string, pattern: string) => {
      new MetricFilter(this, `${metricName}Filter`, {
        logGroup: accessLogs,
        filterPattern: FilterPattern.literal(pattern),
        metricNamespace: METRIC_NAMESPACE,
        metricName,
        metricValue: '1',
        defaultValue: 0,
      });
      return new Metric({ namespace: METRIC_NAMESPACE, metricName, statistic: 'Sum', period });
    };
    const gateway429 = rateLimitMetric(
      'GatewayThrottled',
      '{ ($.status = "429") && ($.functionStatus = "-") }',
    );
    const app429 = rateLimitMetric('AppRateLimited', '{ $.functionStatus = "429" }');
    alarms.add('GatewayThrottled', {
      alarmDescription:
        'API Gateway answered 429 (stage throttle): callers, including legitimate ones, are being turned away before the functions.',
      metric: gateway429,
      threshold: 10,
    });
    alarms.add('AppRateLimitSpike', {
      alarmDescription:
        'The functions answered 100 or more 429s (per-IP limits) in 5 minutes: one or a few clients are hammering.',
      metric: app429,
      threshold: 100,
    });
    alarms.add('InvalidTokenSpike', {
      alarmDescription: `${settings.invalidTokenAlarmThreshold} or more invalid-token confirms in 5 minutes: someone may be guessing tokens.`,
      metric: serviceMetric(METRICS.resetRejected, { reason: 'invalid_or_expired_token' }),
      threshold: settings.invalidTokenAlarmThreshold,
    });
    alarms.add('EmailProviderFailures', {
      alarmDescription:
        'The email provider refused or failed a reset email or a password-changed notice: users asked for a link, or changed a password, and got no mail.',
      metric: new MathExpression({
        expression: 'FILL(resets, 0) + FILL(notices, 0) + FILL(noticeErrors, 0)',
        usingMetrics: {
          resets: serviceMetric(METRICS.resetEmailSuppressed, { reason: 'provider_error' }),
          notices: serviceMetric(METRICS.passwordChangedNotice, { reason: 'provider_error' }),
          noticeErrors: serviceMetric(METRICS.passwordChangedNotice, { reason: 'error' }),
        },
        period,
      }),
      threshold: 1,
    });
    alarms.add('KillSwitchUnavailable', {
      alarmDescription:
        'The email kill-switch parameter could not be read or parsed: reset email is failing closed.',
      metric: serviceMetric(METRICS.killSwitchUnavailable),
      threshold: 1,
    });
    alarms.add('ResponseFloorExceeded', {
      alarmDescription:
        'Request handling took longer than the response-time floor: timing may reveal which emails have accounts.',
      metric: serviceMetric(METRICS.responseFloorExceeded),
      threshold: 5,
    });
    alarms.add('ResetStoreErrors', {
      alarmDescription:
        'Token writes failed after the account lookup: known users are not receiving reset email.',
      metric: serviceMetric(METRICS.resetEmailSuppressed, { reason: 'store_error' }),
      threshold: 1,
    });

    const rollback: Alarm[] = [api5xx];
    const functionWidgets: GraphWidget[] = [];
    for (const [name, fn, timeoutSeconds, reserved] of [
      ['Request', this.requestFunction, settings.requestTimeoutSeconds, settings.requestReservedConcurrency],
      ['Confirm', this.confirmFunction, settings.confirmTimeoutSeconds, settings.confirmReservedConcurrency],
    ] as const) {
      const lower = name.toLowerCase();
      rollback.push(
        alarms.add(`${name}FunctionErrors`, {
          alarmDescription: `The ${lower} function raised unhandled errors or timed out.`,
          metric: fn.metricErrors({ period }),
          threshold: 1,
        }),
        alarms.add(`${name}DurationNearTimeout`, {
          alarmDescription: `The ${lower} function's p99 duration reached 80% of its ${timeoutSeconds} s timeout.`,
          metric: fn.metricDuration({ period, statistic: 'p99' }),
          threshold: timeoutSeconds * 1000 * 0.8,
        }),
      );
      alarms.add(`${name}FunctionThrottles`, {
        alarmDescription: `The ${lower} function was throttled (its reserved or the account's concurrency is exhausted).`,
        metric: fn.metricThrottles({ period }),
        threshold: 1,
      });
      if (reserved !== undefined) {
        alarms.add(`${name}ConcurrencyNearReservation`, {
          alarmDescription: `The ${lower} function used 80% or more of its ${reserved} reserved concurrent executions.`,
          metric: fn.metric('ConcurrentExecutions', { period: Duration.minutes(1), statistic: 'Maximum' }),
          threshold: Math.ceil(reserved * 0.8),
          evaluationPeriods: 3,
        });
      }
      functionWidgets.push(
        new GraphWidget({
          title: `${name} function`,
          left: [
            fn.metricInvocations({ period }),
            fn.metricErrors({ period }),
            fn.metricThrottles({ period }),
          ],
          right: [fn.metricDuration({ period, statistic: 'p99' })],
          width: 12,
        }),
      );
    }

    const tables: Array<[string, ITable, Operation[], string | undefined]> = [
      [
        'TokenTable',
        this.tokenTable,
        [
          Operation.GET_ITEM,
          Operation.PUT_ITEM,
          Operation.UPDATE_ITEM,
          Operation.DELETE_ITEM,
          Operation.BATCH_GET_ITEM,
          Operation.TRANSACT_WRITE_ITEMS,
        ],
        undefined,
      ],
      [
        'UsersTable',
        this.usersTable,
        [Operation.QUERY, Operation.BATCH_GET_ITEM, Operation.TRANSACT_WRITE_ITEMS],
        emailIndexName,
      ],
    ];
    // One graph per expression: CloudWatch refuses two expressions sharing metric ids in one graph.
    const tableWidgets: GraphWidget[] = [];
    const graph = (title: string, metric: IMetric) =>
      tableWidgets.push(new GraphWidget({ title, left: [metric], width: 6 }));
    for (const [id, table, operations, index] of tables) {
      const throttles = table.metricThrottledRequestsForOperations({ operations, period });
      const systemErrors = table.metricSystemErrorsForOperations({ operations, period });
      graph(`${id} throttles`, throttles);
      graph(`${id} system errors`, systemErrors);
      alarms.add(`${id}Throttles`, {
        alarmDescription: `DynamoDB throttled requests on the ${id}: resets slow down or fail with 503.`,
        metric: throttles,
        threshold: 1,
      });
      alarms.add(`${id}SystemErrors`, {
        alarmDescription: `DynamoDB answered 5xx (system errors) on the ${id}.`,
        metric: systemErrors,
        threshold: 1,
      });
      if (index) {
        const indexMetric = (metricName: string) =>
          new Metric({
            namespace: 'AWS/DynamoDB',
            metricName,
            dimensionsMap: { TableName: table.tableName, GlobalSecondaryIndexName: index },
            statistic: 'Sum',
            period,
          });
        const indexThrottles = new MathExpression({
          expression: 'reads + writes',
          usingMetrics: {
            reads: indexMetric('ReadThrottleEvents'),
            writes: indexMetric('WriteThrottleEvents'),
          },
          period,
        });
        graph(`${index} throttles`, indexThrottles);
        alarms.add(`${id}IndexThrottles`, {
          alarmDescription: `DynamoDB throttled the ${index} index of the ${id}: the email lookup is failing.`,
          metric: indexThrottles,
          threshold: 1,
        });
      }
    }

    alarms.addWidgets(
      new AlarmStatusWidget({ title: 'Alarms', alarms: alarms.alarms, width: 24 }),
      new GraphWidget({
        title: 'API requests and errors',
        left: [
          api.metricCount({ period }),
          api.metricClientError({ period }),
          api.metricServerError({ period }),
        ],
        right: [gateway429, app429],
        width: 12,
      }),
      new GraphWidget({
        title: 'API latency',
        left: [
          api.metricLatency({ period, statistic: 'p50' }),
          api.metricLatency({ period, statistic: 'p99' }),
        ],
        width: 12,
      }),
      ...functionWidgets,
      new GraphWidget({
        title: 'Resets',
        left: [
          serviceMetric(METRICS.resetRequested),
          serviceMetric(METRICS.resetEmailSent),
          serviceMetric(METRICS.resetCompleted),
          serviceMetric(METRICS.resetRejected),
        ],
        width: 12,
      }),
      ...tableWidgets,
    );
    return rollback;
  }

  /** Prod: each deploy shifts 10% of traffic to the new version for 5 minutes, and rolls back on alarm. */
  private canaryDeployments(rollbackAlarms: Alarm[]): void {
    for (const [id, alias] of [
      ['RequestDeployment', this.requestAlias],
      ['ConfirmDeployment', this.confirmAlias],
    ] as const) {
      const group = new LambdaDeploymentGroup(this, id, {
        alias,
        deploymentConfig: LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
        alarms: rollbackAlarms,
        autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
      });
      Validations.of(group).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
        reason:
          "CodeDeploy's own service role for Lambda canaries: AWS maintains its narrow alias-shifting permissions.",
      });
    }
  }
}
