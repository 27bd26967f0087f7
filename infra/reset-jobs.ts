import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { GraphWidget } from 'aws-cdk-lib/aws-cloudwatch';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS } from '../lib/audit';
import { type ServiceAlarms, serviceMetric } from './alarms';
import type { ServiceFunction } from './service-function';
import type { Settings } from './settings';

export interface ResetJobsProps {
  settings: Settings;
  removalPolicy: RemovalPolicy;
}

/**
 * The queue between the request function and the reset worker: every accepted request is one job
 * (the address, the method, a flowId, the client network), worked by the worker with its own
 * retries. A job holds an address, so queue and dead-letter queue are encrypted with a key of
 * their own, which only the producers and the worker may use.
 */
export class ResetJobs extends Construct {
  readonly key: Key;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: ResetJobsProps) {
    super(scope, id);
    const { settings } = props;
    this.key = new Key(this, 'Key', {
      description: 'Encrypts the reset jobs queue and its dead-letter queue (they hold email addresses).',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      // Days, for a look at what was given up on: the worker's own letters hold no address.
      retentionPeriod: Duration.days(4),
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      // Reuse a data key for 5 minutes: one KMS call per few hundred messages, not one each.
      dataKeyReuse: Duration.minutes(5),
      enforceSSL: true,
      // Longer than any job can be retried, so a job reaches the dead-letter queue, never expires unseen;
      // the worker itself drops a job once it is older than the credential it would issue.
      retentionPeriod: Duration.days(1),
      visibilityTimeout: Duration.seconds(settings.workerTimeoutSeconds * 6),
      // A backstop only: the worker dead-letters (without the address) after resetJobMaxAttempts itself.
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: settings.resetJobMaxAttempts + 2 },
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'Serverless::Serverless-SQSRedrivePolicy',
      reason:
        'This is the dead-letter queue itself: it has nowhere further to redrive to, and the ResetJobsDeadLetters alarm watches it.',
    });
  }

  /** The request function hands jobs over; the worker takes them, retries and dead-letters them. */
  connect(producer: ServiceFunction, worker: ServiceFunction, settings: Settings): void {
    this.grantSend(producer, this.queue, 'SendResetJobs');
    producer.addEnvironment('RESET_JOBS_QUEUE_URL', this.queue.queueUrl);
    worker.addEnvironment('RESET_JOBS_QUEUE_URL', this.queue.queueUrl);
    worker.addEnvironment('RESET_JOBS_DLQ_URL', this.deadLetterQueue.queueUrl);
    worker.addEnvironment('RESET_JOB_MAX_ATTEMPTS', String(settings.resetJobMaxAttempts));
    worker.addQueueSource(this.queue, {
      batchSize: 10,
      reportBatchItemFailures: true,
      maxConcurrency: settings.workerMaxConcurrency,
    });
    this.grantSend(worker, this.deadLetterQueue, 'DeadLetterResetJobs');
  }

  /**
   * SendMessage on one queue and the two key actions SSE-KMS needs for it, named: the CDK's
   * grantSendMessages adds kms:ReEncrypt* and kms:GenerateDataKey* wildcards this never uses.
   */
  private grantSend(fn: ServiceFunction, queue: Queue, sid: string): void {
    fn.addToRolePolicy(
      new PolicyStatement({ sid, actions: ['sqs:SendMessage'], resources: [queue.queueArn] }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        sid: `${sid}Key`,
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [this.key.keyArn],
      }),
    );
  }

  /** Alarms for resets that wait, that are retried, that are given up on, or that expire. */
  addAlarms(alarms: ServiceAlarms): void {
    alarms.add('ResetJobsBacklogAge', {
      alarmDescription:
        'The oldest reset job waited 60 s or more for 3 minutes: the worker is failing, throttled or the store is slow; reset email is late.',
      metric: this.queue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      }),
      threshold: 60,
      evaluationPeriods: 3,
    });
    alarms.add('ResetJobsDeadLetters', {
      alarmDescription:
        'A reset job reached the dead-letter queue: a dependency stayed unavailable through every retry, or a bug. Those users got no mail.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' }),
      threshold: 1,
    });
    alarms.add('ResetJobRetries', {
      alarmDescription:
        '20 or more reset jobs retried in 5 minutes: DynamoDB, SSM or the email queue is failing for the worker.',
      metric: serviceMetric(METRICS.resetJobRetryScheduled),
      threshold: 20,
    });
    alarms.add('ResetJobsExpired', {
      alarmDescription:
        'A reset job was dropped because it outlived the credential it would issue: resets are delayed past their lifetime.',
      metric: serviceMetric(METRICS.resetEmailSuppressed, { reason: 'job_expired' }),
      threshold: 1,
    });
    alarms.addWidgets(
      new GraphWidget({
        title: 'Reset jobs',
        left: [
          this.queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' }),
          this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' }),
          serviceMetric(METRICS.resetJobRetryScheduled),
        ],
        right: [this.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum' })],
        width: 12,
      }),
    );
  }
}
