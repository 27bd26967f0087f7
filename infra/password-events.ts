import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, type IEventBus } from 'aws-cdk-lib/aws-events';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { EventSourceMapping, FilterCriteria, type IFunction, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE } from '../lib/audit';
import { OUTBOX_PREFIX, OUTBOX_STREAM_FILTER, PASSWORD_CHANGED } from '../lib/events/password-changed';
import { SERVICE_NAME } from '../lib/telemetry';
import { leadingKeys } from './permissions';
import { ServiceFunction } from './service-function';

/** Records older than this go to the on-failure queue; the stream keeps them 24 h, so 18 h remain. */
export const MAX_RECORD_AGE = Duration.hours(6);
/** Backlog at which the iterator-age alarm fires: far below the stream's 24 h retention. */
export const ITERATOR_AGE_ALARM = Duration.minutes(10);

export interface PasswordEventsProps {
  stage: string;
  /** The token table, with a NEW_IMAGE stream. */
  tokenTable: Table;
  /** The functions that write outbox items in their reset transaction (confirm). */
  outboxWriters: IFunction[];
  /** Name or ARN of an existing bus; otherwise `password-reset-<stage>` is created. */
  eventBusName?: string | undefined;
  alarmTopicArn?: string | undefined;
  retention: RetentionDays;
  removalPolicy: RemovalPolicy;
  tracing: boolean;
}

/**
 * PasswordChanged events: the token table's stream, filtered to new `outbox#` items, feeds a
 * small publisher function that puts each event on the bus. Failed records are retried (partial
 * batch failures, bisect on error) until MAX_RECORD_AGE, then their batch is described in an
 * SQS on-failure queue. Alarms fire on backlog, on dead letters and on publisher errors.
 */
export class PasswordEvents extends Construct {
  readonly bus: IEventBus;
  readonly publisher: ServiceFunction;
  readonly failures: Queue;

  constructor(scope: Construct, id: string, props: PasswordEventsProps) {
    super(scope, id);
    const { tokenTable } = props;
    const streamArn = tokenTable.tableStreamArn;
    if (!streamArn) throw new Error('PasswordEvents needs the token table to have a stream (NEW_IMAGE)');

    this.bus = props.eventBusName
      ? props.eventBusName.startsWith('arn:')
        ? EventBus.fromEventBusArn(this, 'Bus', props.eventBusName)
        : EventBus.fromEventBusName(this, 'Bus', props.eventBusName)
      : new EventBus(this, 'Bus', {
          eventBusName: `password-reset-${props.stage}`,
          description: 'PasswordChanged events from the password reset service',
        });

    this.failures = new Queue(this, 'PublishFailures', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failures).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue IS the on-failure destination of the stream; nothing consumes it automatically.',
    });
    Validations.of(this.failures).acknowledge({
      id: 'Serverless::Serverless-SQSRedrivePolicy',
      reason:
        'This is the on-failure queue itself: it has nowhere further to redrive to, and the PublishFailures alarm watches it.',
    });

    this.publisher = new ServiceFunction(this, 'Publisher', {
      entry: 'functions/password-changed-publisher.ts',
      timeout: Duration.seconds(30),
      environment: {
        EVENT_BUS_NAME: this.bus.eventBusName,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
      },
      retention: props.retention,
      removalPolicy: props.removalPolicy,
      tracing: props.tracing,
      roleDescription:
        'Runs the PasswordChanged publisher: reads the token table stream, puts events on one bus.',
      whyNoDeadLetterQueue:
        'The publisher is invoked by a DynamoDB stream event source mapping, never asynchronously: its on-failure destination (the PublishFailures queue) receives what it gives up on.',
    });
    this.grantLeastPrivilege(this.publisher.role as IRole, tokenTable, streamArn, props.outboxWriters);

    new EventSourceMapping(this, 'OutboxStream', {
      target: this.publisher,
      eventSourceArn: streamArn,
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: 10,
      filters: [FilterCriteria.filter(OUTBOX_STREAM_FILTER)],
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      // Retries are unlimited (the default, -1) until a record is MAX_RECORD_AGE old.
      maxRecordAge: MAX_RECORD_AGE,
      onFailure: new SqsDlq(this.failures),
    });

    this.alarms(props.alarmTopicArn);
  }

  private grantLeastPrivilege(role: IRole, tokenTable: Table, streamArn: string, outboxWriters: IFunction[]) {
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ReadTokenTableStream',
        actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
        resources: [streamArn],
      }),
    );
    // The event source mapping also checks ListStreams, which AWS documents on the table's streams.
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ListTokenTableStreams',
        actions: ['dynamodb:ListStreams'],
        resources: [`${tokenTable.tableArn}/stream/*`],
      }),
    );
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(tokenTable.node.defaultChild as never)}.Arn>/stream/*]`,
      reason:
        "ListStreams is granted on this table's own streams only; the stream label is set at deploy time.",
    });
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'PutPasswordChangedEvents',
        actions: ['events:PutEvents'],
        resources: [this.bus.eventBusArn],
        conditions: {
          StringEquals: {
            'events:source': PASSWORD_CHANGED.source,
            'events:detail-type': PASSWORD_CHANGED.detailType,
          },
        },
      }),
    );

    // The confirm function writes outbox items, and only those, in its reset transaction.
    for (const writer of outboxWriters) {
      writer.addToRolePolicy(
        new PolicyStatement({
          sid: 'WritePasswordChangedOutbox',
          actions: ['dynamodb:PutItem'],
          resources: [tokenTable.tableArn],
          conditions: leadingKeys([OUTBOX_PREFIX]),
        }),
      );
    }
  }

  private alarms(alarmTopicArn: string | undefined) {
    const topic = alarmTopicArn ? Topic.fromTopicArn(this, 'AlarmTopic', alarmTopicArn) : undefined;
    const period = Duration.minutes(5);
    const alarm = (id: string, props: Omit<ConstructorParameters<typeof Alarm>[2], 'evaluationPeriods'>) => {
      const created = new Alarm(this, id, {
        treatMissingData: TreatMissingData.NOT_BREACHING,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        ...props,
      });
      if (topic) created.addAlarmAction(new SnsAction(topic));
      return created;
    };
    alarm('IteratorAge', {
      alarmDescription: `PasswordChanged events are ${ITERATOR_AGE_ALARM.toMinutes()}+ minutes behind the token table stream (it keeps records 24 h).`,
      metric: this.publisher.metric('IteratorAge', { statistic: 'Maximum', period }),
      threshold: ITERATOR_AGE_ALARM.toMilliseconds(),
    });
    alarm('DeadLetters', {
      alarmDescription:
        'A batch of PasswordChanged events was given up on: republish it from the stream (24 h) or the outbox items (7 days).',
      metric: this.failures.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period }),
      threshold: 1,
    });
    alarm('PublisherErrors', {
      alarmDescription: 'The PasswordChanged publisher failed a whole batch (it is being retried).',
      metric: this.publisher.metricErrors({ period }),
      threshold: 1,
    });
  }
}
