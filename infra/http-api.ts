import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { CorsHttpMethod, HttpApi, HttpMethod, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { FilterPattern, LogGroup, MetricFilter, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { METRIC_NAMESPACE } from '../lib/audit';
import { ALARM_PERIOD } from './alarms';
import type { BuiltFunction } from './service-functions';

export interface ServiceApiProps {
  corsOrigins: string[];
  throttleRateLimit: number;
  throttleBurstLimit: number;
  /** Every function with a route gets `POST <route>`, integrated with its `live` alias. */
  functions: BuiltFunction[];
  retention: RetentionDays;
  removalPolicy: RemovalPolicy;
}

/**
 * The HTTP API: one POST route per routed function of the table and nothing else, stage
 * throttling, and a JSON access log without bodies.
 *
 * The access log group is its sibling `<id>AccessLogs`, not its child: its logical ID predates
 * this construct.
 */
export class ServiceApi extends HttpApi {
  readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: ServiceApiProps) {
    const accessLogs = new LogGroup(scope, `${id}AccessLogs`, {
      retention: props.retention,
      removalPolicy: props.removalPolicy,
    });
    const routes = props.functions.flatMap(({ spec, fn }) =>
      spec.route ? [{ path: spec.route, name: spec.name, alias: fn.alias }] : [],
    );
    super(scope, id, {
      description: `Password reset: POST ${routes.map(({ name }) => name.toLowerCase()).join(' and ')}, nothing else`,
      createDefaultStage: false,
      corsPreflight:
        props.corsOrigins.length > 0
          ? {
              allowOrigins: props.corsOrigins,
              allowMethods: [CorsHttpMethod.POST],
              allowHeaders: ['content-type'],
              // A browser may only read Retry-After from a 429 or 503 if the API exposes it.
              exposeHeaders: ['retry-after'],
              maxAge: Duration.hours(1),
            }
          : undefined,
    });
    this.accessLogs = accessLogs;
    this.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
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
    for (const { path, name, alias } of routes) {
      if (!alias) throw new Error(`The ${name} function has a route but no live alias`);
      this.addRoutes({
        path,
        methods: [HttpMethod.POST],
        integration: new HttpLambdaIntegration(`${name}Integration`, alias),
      });
    }
    Validations.of(this).acknowledge({
      id: 'AwsSolutions::AwsSolutions-APIG4',
      reason:
        'The reset endpoints are deliberately public and unauthenticated: a user who forgot the password has no credentials. Abuse is bounded by stage throttling and per-IP and per-account limits in the functions.',
    });
  }

  /**
   * A count of the access log lines that match `pattern`, as a metric of the service namespace.
   * Its metric filter is the API's sibling `<metricName>Filter`, as its logical ID always was.
   */
  accessLogMetric(metricName: string, pattern: string): Metric {
    new MetricFilter(this.node.scope as Construct, `${metricName}Filter`, {
      logGroup: this.accessLogs,
      filterPattern: FilterPattern.literal(pattern),
      metricNamespace: METRIC_NAMESPACE,
      metricName,
      metricValue: '1',
      defaultValue: 0,
    });
    return new Metric({ namespace: METRIC_NAMESPACE, metricName, statistic: 'Sum', period: ALARM_PERIOD });
  }
}
