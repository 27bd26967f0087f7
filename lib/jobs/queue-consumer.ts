import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/**
 * The retry discipline both queue-fed functions share (the email sender and the reset worker):
 * each record is parsed, handled, and on a transient failure hidden for an exponential backoff
 * (ChangeMessageVisibility) and reported as a batch item failure; a malformed body, a permanent
 * failure and a transient one out of attempts go to the dead-letter queue at once, as a letter
 * that holds no secret. The queue's own redrive policy stays a backstop.
 */
export interface RetryPolicy {
  maxAttempts: number;
  retryBaseSeconds: number;
  retryMaxSeconds: number;
}

export type DeadLetterReason = 'permanent' | 'retries_exhausted' | 'malformed';

export interface QueueControls<L> {
  /** Hides a message for `seconds` before the queue offers it again. */
  retryLater(receiptHandle: string, seconds: number): Promise<void>;
  deadLetter(letter: L): Promise<void>;
}

export interface FailedRecord<T> {
  /** The parsed body; undefined when it did not parse. */
  item: T | undefined;
  reason: DeadLetterReason;
  code: string;
  attempts: number;
  record: SQSRecord;
}

export interface QueueConsumerOptions<T, L> {
  parse(body: string): T | undefined;
  /** Does the record's work; throws to retry it (or dead-letter it, see isPermanent). */
  handle(item: T, attempts: number): Promise<void>;
  /** A failure no retry can mend: dead-lettered at once. */
  isPermanent(error: unknown): boolean;
  /** A short, secret-free name for a failure (an error code or class name). */
  errorCode(error: unknown): string;
  /** What the dead-letter queue keeps of a failed record. */
  letter(failure: FailedRecord<T>): L;
  queue: QueueControls<L>;
  onRetryScheduled(item: T, fields: { code: string; attempts: number; delaySeconds: number }): void;
  onDeadLettered(letter: L): void;
  /** Runs once per invocation before the batch (e.g. the idempotency layer's Lambda context). */
  onInvoke?(context: Context): void;
  policy: RetryPolicy;
  random: () => number;
}

export function createQueueConsumer<T, L>(options: QueueConsumerOptions<T, L>) {
  const deadLetter = async (failure: FailedRecord<T>) => {
    const letter = options.letter(failure);
    await options.queue.deadLetter(letter);
    options.onDeadLettered(letter);
  };

  const handleRecord = async (record: SQSRecord): Promise<void> => {
    const attempts = Number(record.attributes.ApproximateReceiveCount) || 1;
    const item = options.parse(record.body);
    if (item === undefined)
      return deadLetter({ item, reason: 'malformed', code: 'invalid_body', attempts, record });
    try {
      await options.handle(item, attempts);
    } catch (error) {
      const code = options.errorCode(error);
      if (options.isPermanent(error))
        return deadLetter({ item, reason: 'permanent', code, attempts, record });
      if (attempts >= options.policy.maxAttempts)
        return deadLetter({ item, reason: 'retries_exhausted', code, attempts, record });
      const delaySeconds = backoffSeconds(attempts, options.policy, options.random);
      await options.queue.retryLater(record.receiptHandle, delaySeconds);
      options.onRetryScheduled(item, { code, attempts, delaySeconds });
      throw error; // reported to the event source mapping as a batch item failure
    }
  };

  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    options.onInvoke?.(context);
    // A processor per invocation: it keeps per-batch state (the local poller runs batches side by side).
    return processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), {
      context,
      throwOnFullBatchFailure: false,
    });
  };
}

/** Parses a JSON body against a schema; anything else is undefined (a malformed record). */
export function parseJsonBody<T>(
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } },
  body: string,
): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Exponential backoff with equal jitter, in whole seconds (what ChangeMessageVisibility takes). */
export function backoffSeconds(
  attempt: number,
  policy: Pick<RetryPolicy, 'retryBaseSeconds' | 'retryMaxSeconds'>,
  random: () => number,
): number {
  const ceiling = Math.min(policy.retryMaxSeconds, policy.retryBaseSeconds * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
