import { CfnOutput, Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction, Function as LambdaFn } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  ConfigurationSet,
  EmailIdentity,
  EmailSendingEvent,
  EventDestination,
  Identity,
  type IEmailIdentity,
  SuppressionReasons,
} from 'aws-cdk-lib/aws-ses';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IStringParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { METRICS } from '../lib/audit';
import { isFromAddress } from '../lib/config';
import { IDEMPOTENCY_KEY_PREFIX } from '../lib/email/email-sender';
import { SUPPRESSED_PREFIX } from '../lib/email/suppression-store';
import { serviceMetric } from './alarms';
import { leadingKeys } from './permissions';
import { ServiceFunction } from './service-function';
import type { Settings } from './settings';

/** The sender's timeout; the queue's visibility timeout is six times it, as AWS advises for SQS sources. */
const SENDER_TIMEOUT = Duration.seconds(30);

export interface EmailDeliveryProps {
  settings: Settings;
  tokenTable: ITable;
  killSwitch: IStringParameter;
  /** The settings every function shares (tables, kill-switch, salt, Powertools). */
  environment: Record<string, string>;
  /** Functions that hand mail to the queue (the function table's `sendsEmail` rows). */
  producers: LambdaFn[];
  /** Functions that must skip suppressed addresses (its `readsSuppressions` rows). */
  suppressionReaders: IFunction[];
  retention: RetentionDays;
  removalPolicy: RemovalPolicy;
}

/**
 * Everything between "render an email" and "an inbox": the encrypted queue the request and
 * confirm functions hand mail to, the sender function fed by it (partial batch responses),
 * an encrypted dead-letter queue kept for hours, the SES identity and configuration set with
 * bounce and complaint events routed to a suppression handler, or the SMTP secret, and the
 * alarms that say mail is not going out.
 */
export class EmailDelivery extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly sender: ServiceFunction;
  readonly eventsHandler: ServiceFunction | undefined;

  constructor(scope: Construct, id: string, props: EmailDeliveryProps) {
    super(scope, id);
    const { settings } = props;
    checkEmailSettings(settings);
    const stack = Stack.of(this);

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Hours, not days: a dead reset link is worthless after TOKEN_TTL_MINUTES anyway.
      retentionPeriod: Duration.hours(settings.emailDlqRetentionHours),
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // A queued message holds a live link: keep it no longer than the link lives.
      retentionPeriod: Duration.minutes(settings.tokenTtlMinutes),
      visibilityTimeout: Duration.seconds(SENDER_TIMEOUT.toSeconds() * 6),
      // A backstop only: the sender dead-letters (without the body) after emailMaxAttempts itself.
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: settings.emailMaxAttempts + 2 },
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'Serverless::Serverless-SQSRedrivePolicy',
      reason:
        'This is the dead-letter queue itself: it has nowhere further to redrive to, and the DeadLetters alarm watches it.',
    });

    const ses = settings.emailProvider === 'ses' ? this.ses(settings) : undefined;

    this.sender = this.function('Sender', 'functions/email-sender.ts', props, {
      environment: {
        ...props.environment,
        EMAIL_PROVIDER: settings.emailProvider,
        EMAIL_QUEUE_URL: this.queue.queueUrl,
        EMAIL_DLQ_URL: this.deadLetterQueue.queueUrl,
        EMAIL_MAX_ATTEMPTS: String(settings.emailMaxAttempts),
        ...(settings.emailFrom ? { EMAIL_FROM: settings.emailFrom } : {}),
        ...(ses ? { SES_CONFIGURATION_SET: ses.configurationSet.configurationSetName } : {}),
        ...(settings.smtpSecretArn ? { SMTP_SECRET_ARN: settings.smtpSecretArn } : {}),
      },
      whyNoDeadLetterQueue:
        "The sender is invoked by an SQS event source mapping, never asynchronously: failures return to the queue, whose redrive policy and the sender's own dead-letter records handle them.",
    });
    this.sender.addQueueSource(this.queue, {
      batchSize: 10,
      reportBatchItemFailures: true,
      // Caps the provider's send rate (SES quotas, SMTP relay limits).
      maxConcurrency: settings.emailSenderMaxConcurrency,
    });
    this.deadLetterQueue.grantSendMessages(this.sender);
    this.sender.addToRolePolicy(
      new PolicyStatement({
        sid: 'IdempotencyRecords',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        resources: [props.tokenTable.tableArn],
        conditions: leadingKeys([`${IDEMPOTENCY_KEY_PREFIX}#`]),
      }),
    );
    this.sender.addToRolePolicy(
      new PolicyStatement({
        sid: 'ReadKillSwitch',
        actions: ['ssm:GetParameter'],
        resources: [props.killSwitch.parameterArn],
      }),
    );
    if (ses) {
      this.sender.addToRolePolicy(
        new PolicyStatement({
          sid: 'SendThroughIdentityAndConfigurationSet',
          actions: ['ses:SendEmail'],
          resources: [
            ses.identity.emailIdentityArn,
            stack.formatArn({
              service: 'ses',
              resource: 'configuration-set',
              resourceName: ses.configurationSet.configurationSetName,
            }),
          ],
        }),
      );
    }
    if (settings.smtpSecretArn) {
      this.sender.addToRolePolicy(
        new PolicyStatement({
          sid: 'ReadSmtpSecret',
          actions: ['secretsmanager:GetSecretValue'],
          // A partial ARN (no random suffix) matches its six suffix characters, nothing more.
          resources: [
            /-[A-Za-z0-9]{6}$/.test(settings.smtpSecretArn)
              ? settings.smtpSecretArn
              : `${settings.smtpSecretArn}-??????`,
          ],
        }),
      );
    }

    for (const producer of props.producers) {
      producer.addEnvironment('EMAIL_QUEUE_URL', this.queue.queueUrl);
      producer.addToRolePolicy(
        new PolicyStatement({
          sid: 'HandMailToTheSender',
          actions: ['sqs:SendMessage'],
          resources: [this.queue.queueArn],
        }),
      );
    }
    for (const reader of props.suppressionReaders) {
      reader.addToRolePolicy(
        new PolicyStatement({
          sid: 'ReadSuppressedAddresses',
          actions: ['dynamodb:GetItem'],
          resources: [props.tokenTable.tableArn],
          conditions: leadingKeys([SUPPRESSED_PREFIX]),
        }),
      );
    }

    if (ses) {
      // Why neither the handler nor the rule that feeds it has a dead-letter queue.
      const bounceReason =
        "A bounce or complaint event that EventBridge cannot deliver after its retries is lost; SES's account-level suppression list stays on as the backstop for the same addresses.";
      this.eventsHandler = this.function('BounceHandler', 'functions/email-events.ts', props, {
        environment: props.environment,
        whyNoDeadLetterQueue: bounceReason,
      });
      this.eventsHandler.addToRolePolicy(
        new PolicyStatement({
          sid: 'WriteSuppressedAddresses',
          actions: ['dynamodb:PutItem'],
          resources: [props.tokenTable.tableArn],
          conditions: leadingKeys([SUPPRESSED_PREFIX]),
        }),
      );
      const rule = new Rule(this, 'BouncesAndComplaints', {
        description: 'SES bounce and complaint events of this configuration set, to the suppression handler',
        eventPattern: {
          source: ['aws.ses'],
          detailType: ['Email Bounced', 'Email Complaint Received'],
          detail: {
            mail: { tags: { 'ses:configuration-set': [ses.configurationSet.configurationSetName] } },
          },
        },
        targets: [
          new LambdaFunction(this.eventsHandler, { retryAttempts: 8, maxEventAge: Duration.hours(6) }),
        ],
      });
      Validations.of(rule).acknowledge({ id: 'Serverless::Serverless-EventBusDLQ', reason: bounceReason });
    }

    this.alarms(settings, ses !== undefined);
    new CfnOutput(this, 'EmailQueueUrl', { value: this.queue.queueUrl });
    new CfnOutput(this, 'EmailDeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
  }

  /** The sending identity (created with Easy DKIM, or imported) and a configuration set whose events reach EventBridge. */
  private ses(settings: Settings): { identity: IEmailIdentity; configurationSet: ConfigurationSet } {
    const name = settings.sesIdentity as string;
    const configurationSet = new ConfigurationSet(this, 'ConfigurationSet', {
      reputationMetrics: true,
      sendingEnabled: true,
      // The same as the account-level list, stated here so this set cannot drift from it.
      suppressionReasons: SuppressionReasons.BOUNCES_AND_COMPLAINTS,
    });
    configurationSet.addEventDestination('ToEventBridge', {
      destination: EventDestination.eventBus(EventBus.fromEventBusName(this, 'DefaultBus', 'default')),
      events: [EmailSendingEvent.BOUNCE, EmailSendingEvent.COMPLAINT],
    });
    if (settings.importSesIdentity) {
      return { identity: EmailIdentity.fromEmailIdentityName(this, 'Identity', name), configurationSet };
    }
    const domain = !name.includes('@');
    const identity = new EmailIdentity(this, 'Identity', {
      identity: domain ? Identity.domain(name) : Identity.email(name),
      configurationSet,
      ...(domain ? { dkimSigning: true } : {}),
    });
    if (domain) {
      identity.dkimRecords.forEach((record, i) => {
        new CfnOutput(this, `DkimRecord${i + 1}`, {
          description: `Easy DKIM: add this CNAME to the DNS of ${name}`,
          value: `${record.name} CNAME ${record.value}`,
        });
      });
    }
    return { identity, configurationSet };
  }

  /** The sender and the bounce handler: the same size and timeout, roles named for email. */
  private function(
    id: string,
    entry: string,
    props: EmailDeliveryProps,
    options: { environment: Record<string, string>; whyNoDeadLetterQueue: string },
  ): ServiceFunction {
    return new ServiceFunction(this, id, {
      entry,
      timeout: SENDER_TIMEOUT,
      retention: props.retention,
      removalPolicy: props.removalPolicy,
      tracing: props.settings.tracing,
      roleDescription: `Runs the email ${id} function; data permissions are added statement by statement.`,
      ...options,
    });
  }

  private alarms(settings: Settings, ses: boolean): void {
    const topic = settings.alarmTopicArn
      ? Topic.fromTopicArn(this, 'AlarmTopic', settings.alarmTopicArn)
      : undefined;
    const alarm = (id: string, props: ConstructorParameters<typeof Alarm>[2]) => {
      const created = new Alarm(this, id, { treatMissingData: TreatMissingData.NOT_BREACHING, ...props });
      if (topic) created.addAlarmAction(new SnsAction(topic));
      // OK notifications too, like every service alarm (infra/alarms.ts).
      if (topic) created.addOkAction(new SnsAction(topic));
      return created;
    };
    const period = Duration.minutes(5);
    alarm('DeadLetters', {
      alarmDescription:
        'Email landed in the dead-letter queue: a permanent provider refusal, or retries ran out. Users did not get mail.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    alarm('QueueBacklogAge', {
      alarmDescription:
        'The oldest queued email waited over 5 minutes: the sender is failing or throttled, and reset links are expiring unsent.',
      metric: this.queue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      }),
      threshold: 300,
      evaluationPeriods: 3,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    alarm('SenderErrors', {
      alarmDescription:
        'The email sender raised unhandled errors (a cold-start ConfigError names the bad setting).',
      metric: this.sender.metricErrors({ period }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    alarm('HandOffErrors', {
      alarmDescription:
        'The request or confirm function could not put an email on the queue (reason provider_error): those users get no mail.',
      metric: serviceMetric(METRICS.resetEmailSuppressed, { reason: 'provider_error' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    alarm('EmailRetries', {
      alarmDescription: 'Many transient delivery failures: the provider is throttling or failing.',
      metric: serviceMetric(METRICS.emailRetryScheduled),
      threshold: 20,
      evaluationPeriods: 2,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    if (ses) {
      // SES reviews an account at a 5% bounce or 0.1% complaint rate, and may pause it at 10% / 0.5%.
      alarm('SesBounceRate', {
        alarmDescription: 'SES bounce rate at 5%: SES puts the account under review at this rate.',
        metric: new Metric({
          namespace: 'AWS/SES',
          metricName: 'Reputation.BounceRate',
          statistic: 'Maximum',
          period: Duration.hours(1),
        }),
        threshold: 0.05,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
      alarm('SesComplaintRate', {
        alarmDescription: 'SES complaint rate at 0.1%: SES puts the account under review at this rate.',
        metric: new Metric({
          namespace: 'AWS/SES',
          metricName: 'Reputation.ComplaintRate',
          statistic: 'Maximum',
          period: Duration.hours(1),
        }),
        threshold: 0.001,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
    }
  }
}

/**
 * Refuses deployments that would lose mail silently or fail at the first send, with a message
 * naming the context key to fix.
 */
export function checkEmailSettings(settings: Settings): void {
  const fail = (message: string) => {
    throw new Error(`Invalid CDK context: ${message}`);
  };
  if (settings.stage === 'prod' && settings.emailProvider === 'mock' && !settings.allowMockEmailInProd) {
    fail(
      'emailProvider=mock in stage=prod would answer 200 and deliver no reset email. Set -c emailProvider=ses (with emailFrom and sesIdentity) or -c emailProvider=smtp (with emailFrom and smtpSecretArn); -c allowMockEmailInProd=true only if you mean it.',
    );
  }
  if (settings.emailProvider === 'mock') return;
  if (!settings.emailFrom || !isFromAddress(settings.emailFrom)) {
    fail(
      `emailFrom is required for emailProvider=${settings.emailProvider}, e.g. 'Market <no-reply@market.example.com>'`,
    );
  }
  const fromAddress = (/<([^>]+)>/.exec(settings.emailFrom as string)?.[1] ?? (settings.emailFrom as string))
    .trim()
    .toLowerCase();
  if (settings.emailProvider === 'ses') {
    const identity = settings.sesIdentity?.toLowerCase();
    if (!identity)
      fail('sesIdentity is required for emailProvider=ses: a domain (market.example.com) or an address');
    const matches = identity?.includes('@') ? fromAddress === identity : fromAddress.endsWith(`@${identity}`);
    if (!matches)
      fail(
        `emailFrom (${fromAddress}) is not covered by sesIdentity (${settings.sesIdentity}): SES would reject every message`,
      );
  }
  if (settings.emailProvider === 'smtp') {
    if (!settings.smtpSecretArn)
      fail(
        'smtpSecretArn is required for emailProvider=smtp: a Secrets Manager secret holding the smtps:// URL',
      );
    if (!/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+/.test(settings.smtpSecretArn as string))
      fail('smtpSecretArn must be a Secrets Manager secret ARN');
  }
}
