import { Duration } from 'aws-cdk-lib';
import {
  type Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { type ITable, Operation } from 'aws-cdk-lib/aws-dynamodb';
import { METRICS } from '../lib/audit';
import { ALARM_PERIOD as period, type ServiceAlarms, serviceMetric } from './alarms';
import type { ServiceData } from './data';
import type { ServiceApi } from './http-api';
import type { ServiceFunction } from './service-function';
import type { BuiltFunction, FunctionSpec } from './service-functions';
import type { Settings } from './settings';

export interface ServiceAlarmsInput {
  settings: Settings;
  api: ServiceApi;
  functions: BuiltFunction[];
  data: ServiceData;
}

/**
 * Every alarm of the service (runbook in the README) and its dashboard: the API, the service's
 * signals, each function of the table and each table. Returns the alarms a canary rolls back on.
 */
export function addServiceAlarms(alarms: ServiceAlarms, input: ServiceAlarmsInput): Alarm[] {
  const api = apiAlarms(alarms, input);
  signalAlarms(alarms, input.settings);
  const functions = input.functions.map(({ spec, fn }) => functionAlarms(alarms, spec, fn));
  const tableWidgets = tableAlarms(alarms, input.data);

  alarms.addWidgets(
    new AlarmStatusWidget({ title: 'Alarms', alarms: alarms.alarms, width: 24 }),
    ...api.widgets,
    ...functions.map(({ widget }) => widget),
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
  return [api.rollback, ...functions.flatMap(({ rollback }) => rollback)];
}

function apiAlarms(alarms: ServiceAlarms, { settings, api }: ServiceAlarmsInput) {
  const rollback = alarms.add('Api5xxRate', {
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
  const gateway429 = api.accessLogMetric(
    'GatewayThrottled',
    '{ ($.status = "429") && ($.functionStatus = "-") }',
  );
  const app429 = api.accessLogMetric('AppRateLimited', '{ $.functionStatus = "429" }');
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

  const widgets = [
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
  ];
  return { rollback, widgets };
}

/** What the functions report about their own outcomes (lib/audit.ts). */
function signalAlarms(alarms: ServiceAlarms, settings: Settings): void {
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
}

/** Errors, time against the timeout, throttles and, with a reservation, concurrency, per function. */
function functionAlarms(alarms: ServiceAlarms, spec: FunctionSpec, fn: ServiceFunction) {
  const { name, timeoutSeconds, reservedConcurrency } = spec;
  // "ResetWorker" is "the reset worker function".
  const lower = name.replace(/(?<=[a-z])(?=[A-Z])/g, ' ').toLowerCase();
  const rollback = [
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
  ];
  alarms.add(`${name}FunctionThrottles`, {
    alarmDescription: `The ${lower} function was throttled (its reserved or the account's concurrency is exhausted).`,
    metric: fn.metricThrottles({ period }),
    threshold: 1,
  });
  if (reservedConcurrency !== undefined) {
    alarms.add(`${name}ConcurrencyNearReservation`, {
      alarmDescription: `The ${lower} function used 80% or more of its ${reservedConcurrency} reserved concurrent executions.`,
      metric: fn.metric('ConcurrentExecutions', { period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: Math.ceil(reservedConcurrency * 0.8),
      evaluationPeriods: 3,
    });
  }
  const widget = new GraphWidget({
    title: `${name} function`,
    left: [fn.metricInvocations({ period }), fn.metricErrors({ period }), fn.metricThrottles({ period })],
    right: [fn.metricDuration({ period, statistic: 'p99' })],
    width: 12,
  });
  return { rollback, widget };
}

/** Throttles and system errors on the operations the service uses, and the email index's throttles. */
function tableAlarms(alarms: ServiceAlarms, data: ServiceData): GraphWidget[] {
  const tables: Array<[string, ITable, Operation[], string | undefined]> = [
    [
      'TokenTable',
      data.tokenTable,
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
      data.usersTable,
      [Operation.QUERY, Operation.BATCH_GET_ITEM, Operation.TRANSACT_WRITE_ITEMS],
      data.emailIndexName,
    ],
  ];
  // One graph per expression: CloudWatch refuses two expressions sharing metric ids in one graph.
  const widgets: GraphWidget[] = [];
  const graph = (title: string, metric: IMetric) =>
    widgets.push(new GraphWidget({ title, left: [metric], width: 6 }));
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
    if (!index) continue;
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
      usingMetrics: { reads: indexMetric('ReadThrottleEvents'), writes: indexMetric('WriteThrottleEvents') },
      period,
    });
    graph(`${index} throttles`, indexThrottles);
    alarms.add(`${id}IndexThrottles`, {
      alarmDescription: `DynamoDB throttled the ${index} index of the ${id}: the email lookup is failing.`,
      metric: indexThrottles,
      threshold: 1,
    });
  }
  return widgets;
}
