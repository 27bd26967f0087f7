import * as z from 'zod/mini';
import type { SendMessage } from '../aws/send-message';
import '../zod-messages';
import { FLOW_ID_LENGTH } from '../codes/code';
import { DependencyUnavailableError } from '../errors';
import type { RandomBytes } from '../tokens/token';

/**
 * What the request function hands the reset worker: everything the account's work needs, decided
 * before anything about the account is known. The queue is encrypted with its own key: the body
 * holds the address as typed (normalized), never a credential, which only the worker makes.
 */
export const resetJob = z.strictObject({
  /** The idempotency key: a job the queue delivers twice is worked once. */
  id: z.uuid(),
  /** Normalized (trimmed, lowercased), as the lookup and the account key use it. */
  email: z.string().check(z.minLength(3), z.maxLength(254)),
  method: z.enum(['link', 'code']),
  /** Code mode: the flowId the client was answered with; the worker writes its flow item. */
  flowId: z.optional(z.string().check(z.length(FLOW_ID_LENGTH))),
  /** The client's address, for the per-network account limit and the audit trail. */
  sourceIp: z.string().check(z.minLength(2), z.maxLength(64)),
  requestId: z.string().check(z.minLength(1), z.maxLength(128)),
  /** Epoch ms of the request: the credential's lifetime counts from here, never from the work. */
  requestedAt: z.number().check(z.int(), z.positive()),
});

export type ResetJob = z.infer<typeof resetJob>;

/** A new job's id: a version 4 UUID from the injected random source. */
export function newJobId(random: RandomBytes): string {
  const bytes = Buffer.from(random(16));
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface ResetJobQueue {
  /** Throws DependencyUnavailableError when the queue did not take the job. */
  enqueue(job: ResetJob, options?: { signal?: AbortSignal }): Promise<void>;
}

/**
 * The SQS hand-off: one SendMessage (lib/aws/send-message.ts), retried; a duplicate is worked
 * once by the worker. Any failure is the same 503 for every address.
 */
export class SqsResetJobQueue implements ResetJobQueue {
  constructor(
    private readonly sendMessage: SendMessage,
    private readonly queueUrl: string,
  ) {}

  async enqueue(job: ResetJob, options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await this.sendMessage(this.queueUrl, JSON.stringify(job), options);
    } catch (cause) {
      throw new DependencyUnavailableError('SQS', { cause });
    }
  }
}
