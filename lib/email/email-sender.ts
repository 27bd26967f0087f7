import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Clock } from '../clock';
import type { EmailConfig } from '../config';
import { EmailDeliveryError } from '../errors';
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
  queue: {
    /** Hides a message for `seconds` before the queue offers it again. */
    retryLater(receiptHandle: string, seconds: number): Promise<void>;
    deadLetter(record: DeadLetter): Promise<void>;
  };
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
  reason: 'permanent' | 'retries_exhausted' | 'malformed';
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

  const handleRecord = async (record: SQSRecord): Promise<void> => {
    const attempts = Number(record.attributes.ApproximateReceiveCount) || 1;
    const parsed = parseBody(record.body);
    const letter = (reason: DeadLetter['reason'], code: string): DeadLetter => ({
      id: parsed?.id,
      template: parsed?.template,
      accountKey: parsed ? deps.pseudonymize('account', parsed.to) : undefined,
      reason,
      code,
      attempts,
      sqsMessageId: record.messageId,
      failedAt: new Date(deps.clock.now()).toISOString(),
    });
    const deadLetter = async (entry: DeadLetter) => {
      await deps.queue.deadLetter(entry);
      deps.report('email_dead_lettered', { ...entry });
    };
    if (!parsed) return deadLetter(letter('malformed', 'invalid_body'));

    const context = { id: parsed.id, template: parsed.template, attempts };
    try {
      const result = await deliverOnce(parsed);
      if (result.duplicate) deps.report('email_dropped', { ...context, reason: 'duplicate' });
      else if (result.status === 'sent') deps.report('email_delivered', context);
      else deps.report('email_dropped', { ...context, reason: result.reason });
    } catch (error) {
      const failure = error instanceof EmailDeliveryError ? error : undefined;
      const code = failure?.code ?? (error instanceof Error ? error.name : 'unknown');
      if (failure && !failure.transient) return deadLetter(letter('permanent', code));
      if (attempts >= deps.config.maxAttempts) return deadLetter(letter('retries_exhausted', code));
      const delay = backoffSeconds(attempts, deps.config, deps.random);
      await deps.queue.retryLater(record.receiptHandle, delay);
      deps.report('email_retry_scheduled', { ...context, code, delaySeconds: delay });
      throw error; // reported to the event source mapping as a batch item failure
    }
  };

  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    idempotency.registerLambdaContext(context);
    // A processor per invocation: it keeps per-batch state (the local poller runs batches side by side).
    return processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), {
      context,
      throwOnFullBatchFailure: false,
    });
  };
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

function parseBody(body: string): QueuedEmail | undefined {
  try {
    const parsed = queuedEmail.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Exponential backoff with equal jitter, in whole seconds (what ChangeMessageVisibility takes). */
export function backoffSeconds(
  attempt: number,
  config: Pick<EmailConfig, 'retryBaseSeconds' | 'retryMaxSeconds'>,
  random: () => number,
): number {
  const ceiling = Math.min(config.retryMaxSeconds, config.retryBaseSeconds * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
