import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * One structured audit line per outcome, plus an EMF metric of the same name.
 * Lines carry a request id, a pseudonymous account key and the source IP: never a
 * token, a password, a hash or a raw email.
 */
export type AuditEvent =
  | { event: 'reset_requested' }
  | { event: 'reset_email_sent' }
  | { event: 'reset_email_suppressed'; reason: SuppressReason }
  | { event: 'reset_completed' }
  | {
      event: 'reset_rejected';
      reason: 'invalid_or_expired_token' | 'weak_password' | 'rate_limited';
      detail?: string;
    }
  | { event: 'password_changed_notice'; delivered: boolean; reason?: string }
  // Code mode (issue 13): the reason stays in the log and the metric, never in the answer.
  | { event: 'code_issued' }
  | { event: 'code_rejected'; reason: CodeRejectReason }
  | { event: 'code_budget_exhausted'; reason: 'flow' | 'account' };

/** Why a reset job sent no mail: audited and counted, never shown to the client. */
export type SuppressReason =
  | 'unknown_account'
  | 'throttled'
  | 'kill_switch'
  | 'dry_run'
  | 'suppressed_address'
  | 'job_expired';

export type CodeRejectReason =
  | 'unknown_flow'
  | 'expired'
  | 'wrong_code'
  | 'superseded'
  | 'no_user'
  | 'credentials_changed'
  | 'claimed_by_another'
  | 'already_used';

export interface AuditContext {
  requestId: string;
  sourceIp: string;
  accountKey?: string;
}

export type Audit = (entry: AuditEvent, context: AuditContext) => void;

/** Metric names, shared with the CDK alarms. */
export const METRIC_NAMESPACE = 'PasswordReset';
export const METRICS = {
  resetRequested: 'ResetRequested',
  resetEmailSent: 'ResetEmailSent',
  passwordChangedNotice: 'PasswordChangedNotice',
  killSwitchUnavailable: 'KillSwitchUnavailable',
  responseFloorExceeded: 'ResponseFloorExceeded',
  resetEmailSuppressed: 'ResetEmailSuppressed',
  resetRejected: 'ResetRejected',
  resetCompleted: 'ResetCompleted',
  passwordChangedPublished: 'PasswordChangedPublished',
  passwordChangedPublishFailed: 'PasswordChangedPublishFailed',
  // The email sender and the bounce handler (issue 9).
  emailDelivered: 'EmailDelivered',
  emailDropped: 'EmailDropped',
  emailRetryScheduled: 'EmailRetryScheduled',
  emailDeadLettered: 'EmailDeadLettered',
  addressSuppressed: 'AddressSuppressed',
  // The reset worker's queue discipline.
  resetJobRetryScheduled: 'ResetJobRetryScheduled',
  resetJobDeadLettered: 'ResetJobDeadLettered',
  // The optional breached-password check (issue 12): it failed open.
  breachCheckUnavailable: 'BreachCheckUnavailable',
} as const;

const METRIC_NAME: Record<AuditEvent['event'], string> = {
  reset_requested: METRICS.resetRequested,
  reset_email_sent: METRICS.resetEmailSent,
  reset_email_suppressed: METRICS.resetEmailSuppressed,
  reset_completed: METRICS.resetCompleted,
  reset_rejected: METRICS.resetRejected,
  password_changed_notice: METRICS.passwordChangedNotice,
  code_issued: 'CodeIssued',
  code_rejected: 'CodeRejected',
  code_budget_exhausted: 'CodeBudgetExhausted',
};

export function createAudit(logger: Logger, metrics: Metrics): Audit {
  return (entry, context) => {
    logger.info(entry.event, { audit: entry, ...context });
    const name = METRIC_NAME[entry.event];
    metrics.addMetric(name, MetricUnit.Count, 1);
    if ('reason' in entry && entry.reason) {
      // A second, per-reason series lets an alarm watch e.g. only provider errors.
      const single = metrics.singleMetric();
      single.addDimension('reason', entry.reason);
      single.addMetric(name, MetricUnit.Count, 1);
    }
  };
}
