import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Clock } from '../clock';
import type { EmailConfig } from '../config';
import { EmailDeliveryError } from '../errors';
import {
  createQueueConsumer,
  type DeadLetterReason,
  parseJsonBody,
  type QueueControls,
} from '../jobs/queue-consumer';
import type { Pseudonymize } from '../pseudonym';
import type { KillSwitch } from './kill-switch';
import { type QueuedEmail, queuedEmail } from './queued-email';
import type { EmailProvider } from './send-email';

/**
 * The sender function's work: deliver each queued message through the provider at most once,
 * after its own kill-switch check. Transient failures go back to the queue with exponential
 * backoff (ChangeMessageVisibility) and are reported as batch item failures; permanent ones,
 * and transient ones out of attempts, go to the dead-letter queue at once, without the body.
 */
export interface EmailSenderDeps {
  provider: EmailProvider;
  killSwitch: KillSwitch;
  /** Powertools Idempotency store (DynamoDB: the token table, keys `email-sent#<hash>`). */
  persistenceStore: BasePersistenceLayer;
  queue: QueueControls<DeadLetter>;
  pseudonymize: Pseudonymize;
  clock: Clock;
  random: () => number;
  /** One structured line (and metric) per outcome. Never receives the address, body or link. */
  report: (event: SenderEvent, fields: Record<string, unknown>) => void;
  config: Pick<EmailConfig, 'maxAttempts' | 'retryBaseSeconds' | 'retryMaxSeconds'>;
}

export type SenderEvent =
  | 'email_delivered'
  | 'email_dropped'
  | 'email_retry_scheduled'
  | 'email_dead_lettered';

/**
 * What the dead-letter queue holds: enough to see what failed and for whom (the HMAC account
 * key), never the address, the body or the link, which expires in minutes anyway.
 */
export interface DeadLetter {
  id: string | undefined;
  template: string | undefined;
  accountKey: string | undefined;
  reason: DeadLetterReason;
  code: string;
  attempts: number;
  sqsMessageId: string;
  failedAt: string;
}

export type DeliveryResult =
  | { status: 'sent' }
  | { status: 'dropped'; reason: 'expired' | 'kill_switch' | 'dry_run' };

/** How long a delivered message id is remembered: longer than any message can stay queued. */
export const IDEMPOTENCY_SECONDS = 3_600;
export const IDEMPOTENCY_KEY_PREFIX = 'email-sent';

export function createEmailSender(deps: EmailSenderDeps) {
  const idempotency = new IdempotencyConfig({
    eventKeyJmesPath: 'id',
    expiresAfterSeconds: IDEMPOTENCY_SECONDS,
    throwOnNoIdempotencyKey: true,
    // A stored result means this id was handled before: the queue delivered it again.
    responseHook: (response) => ({ ...(response as object), duplicate: true }),
  });
  const deliverOnce = makeIdempotent((message: QueuedEmail) => deliverMessage(message, deps), {
    persistenceStore: deps.persistenceStore,
    config: idempotency,
    keyPrefix: IDEMPOTENCY_KEY_PREFIX,
  }) as (message: QueuedEmail) => Promise<DeliveryResult & { duplicate?: true }>;

  return createQueueConsumer<QueuedEmail, DeadLetter>({
    parse: (body) => parseJsonBody(queuedEmail, body),
    handle: async (message, attempts) => {
      const context = { id: message.id, template: message.template, attempts };
      const result = await deliverOnce(message);
      if (result.duplicate) deps.report('email_dropped', { ...context, reason: 'duplicate' });
      else if (result.status === 'sent') deps.report('email_delivered', context);
      else deps.report('email_dropped', { ...context, reason: result.reason });
    },
    isPermanent: (error) => error instanceof EmailDeliveryError && !error.transient,
    errorCode: (error) =>
      error instanceof EmailDeliveryError ? error.code : error instanceof Error ? error.name : 'unknown',
    letter: ({ item, reason, code, attempts, record }) => ({
      id: item?.id,
      template: item?.template,
      accountKey: item ? deps.pseudonymize('account', item.to) : undefined,
      reason,
      code,
      attempts,
      sqsMessageId: record.messageId,
      failedAt: new Date(deps.clock.now()).toISOString(),
    }),
    queue: deps.queue,
    onRetryScheduled: (message, fields) =>
      deps.report('email_retry_scheduled', { id: message.id, template: message.template, ...fields }),
    onDeadLettered: (letter) => deps.report('email_dead_lettered', { ...letter }),
    onInvoke: (context) => idempotency.registerLambdaContext(context),
    policy: deps.config,
    random: deps.random,
  });
}

/** The once-only part: every check that decides whether this message goes out, then the provider. */
async function deliverMessage(message: QueuedEmail, deps: EmailSenderDeps): Promise<DeliveryResult> {
  if (message.expiresAt !== undefined && message.expiresAt <= deps.clock.now())
    return { status: 'dropped', reason: 'expired' };
  // Checked again here: mail queued before an operator turned it off must not go out.
  const state = await deps.killSwitch.read();
  if (state === 'disabled') return { status: 'dropped', reason: 'kill_switch' };
  if (state === 'dry_run') return { status: 'dropped', reason: 'dry_run' };
  // Fail closed, but do not lose the message: SSM being unreadable is an outage, retried.
  if (state === 'unavailable') throw new EmailDeliveryError(true, 'kill_switch_unavailable');
  await deps.provider.deliver(message);
  return { status: 'sent' };
}
