import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  type AlarmProps,
  ComparisonOperator,
  Dashboard,
  type IWidget,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE } from '../lib/audit';
import { SERVICE_NAME } from '../lib/telemetry';

export const ALARM_PERIOD = Duration.minutes(5);

/** A metric the functions publish through Powertools (namespace PasswordReset, dimension service). */
export function serviceMetric(metricName: string, dimensions: Record<string, string> = {}): Metric {
  return new Metric({
    namespace: METRIC_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME, ...dimensions },
    statistic: 'Sum',
    period: ALARM_PERIOD,
  });
}

export interface ServiceAlarmsProps {
  /** Every alarm notifies it on ALARM and on OK. Required in prod (checked in settings). */
  alarmTopicArn: string | undefined;
  dashboardName: string;
}

/**
 * The service's alarms (infra/service-alarms.ts) and dashboard in one place: every alarm added
 * with `add()` gets the same actions and missing-data policy.
 */
export class ServiceAlarms extends Construct {
  readonly topic: ITopic | undefined;
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: ServiceAlarmsProps) {
    super(scope, id);
    this.topic = props.alarmTopicArn ? Topic.fromTopicArn(this, 'Topic', props.alarmTopicArn) : undefined;
    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: props.dashboardName });
  }

  /** An alarm on `threshold` or more (by default), notifying the topic on ALARM and on OK. */
  add(id: string, props: Omit<AlarmProps, 'evaluationPeriods'> & { evaluationPeriods?: number }): Alarm {
    const alarm = new Alarm(this, id, {
      treatMissingData: TreatMissingData.NOT_BREACHING,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      ...props,
    });
    if (this.topic) {
      alarm.addAlarmAction(new SnsAction(this.topic));
      alarm.addOkAction(new SnsAction(this.topic));
    }
    this.alarms.push(alarm);
    return alarm;
  }

  addWidgets(...widgets: IWidget[]): void {
    this.dashboard.addWidgets(...widgets);
  }
}
