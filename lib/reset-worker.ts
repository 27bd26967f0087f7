import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyInconsistentStateError,
  IdempotencyPersistenceLayerError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { ResetJobsConfig } from './config';
import { DependencyUnavailableError } from './errors';
import {
  createQueueConsumer,
  type DeadLetterReason,
  parseJsonBody,
  type QueueControls,
} from './jobs/queue-consumer';
import { type ResetJob, resetJob } from './jobs/reset-job';
import { type ProcessResetJobDeps, processResetJob, type ResetJobResult } from './process-reset-job';

/**
 * The reset worker function's work: each queued job is worked once (Powertools Idempotency keyed
 * on the job id: the queue may deliver a job twice), retried with backoff while a dependency is
 * unavailable, and dead-lettered when it never succeeds or can never succeed.
 */
export interface ResetWorkerDeps extends ProcessResetJobDeps {
  /** Powertools Idempotency store (DynamoDB: the token table, keys `reset-job#<hash>`). */
  persistenceStore: BasePersistenceLayer;
  queue: QueueControls<ResetJobDeadLetter>;
  /** Uniform in [0, 1), for the backoff's jitter. */
  jitter: () => number;
  report: (event: ResetWorkerEvent, fields: Record<string, unknown>) => void;
  policy: Pick<ResetJobsConfig, 'maxAttempts' | 'retryBaseSeconds' | 'retryMaxSeconds'>;
}

export type ResetWorkerEvent = 'reset_job_retry_scheduled' | 'reset_job_dead_lettered';

/** What the dead-letter queue keeps of a job: who and why (the HMAC account key), never the address. */
export interface ResetJobDeadLetter {
  jobId: string | undefined;
  requestId: string | undefined;
  method: ResetJob['method'] | undefined;
  accountKey: string | undefined;
  reason: DeadLetterReason;
  code: string;
  attempts: number;
  sqsMessageId: string;
  failedAt: string;
}

/** Longer than any job can be worth working: the longest credential lifetime is an hour. */
export const JOB_IDEMPOTENCY_SECONDS = 2 * 3_600;
export const JOB_IDEMPOTENCY_KEY_PREFIX = 'reset-job';

export function createResetWorker(deps: ResetWorkerDeps) {
  const idempotency = new IdempotencyConfig({
    eventKeyJmesPath: 'id',
    expiresAfterSeconds: JOB_IDEMPOTENCY_SECONDS,
    throwOnNoIdempotencyKey: true,
  });
  const workOnce = makeIdempotent((job: ResetJob) => processResetJob(job, deps), {
    persistenceStore: deps.persistenceStore,
    config: idempotency,
    keyPrefix: JOB_IDEMPOTENCY_KEY_PREFIX,
  }) as (job: ResetJob) => Promise<ResetJobResult>;

  return createQueueConsumer<ResetJob, ResetJobDeadLetter>({
    parse: (body) => parseJsonBody(resetJob, body),
    handle: async (job) => {
      await workOnce(job);
    },
    isPermanent: (error) => !isTransient(error),
    errorCode: (error) => (error instanceof Error ? error.name : 'unknown'),
    letter: ({ item, reason, code, attempts, record }) => ({
      jobId: item?.id,
      requestId: item?.requestId,
      method: item?.method,
      accountKey: item ? deps.pseudonymize('account', item.email) : undefined,
      reason,
      code,
      attempts,
      sqsMessageId: record.messageId,
      failedAt: new Date(deps.clock.now()).toISOString(),
    }),
    queue: deps.queue,
    onRetryScheduled: (job, fields) =>
      deps.report('reset_job_retry_scheduled', { jobId: job.id, requestId: job.requestId, ...fields }),
    onDeadLettered: (letter) => deps.report('reset_job_dead_lettered', { ...letter }),
    onInvoke: (context) => idempotency.registerLambdaContext(context),
    policy: deps.policy,
    random: deps.jitter,
  });
}

/**
 * Worth a retry: a dependency that did not answer, the idempotency store unreachable, or another
 * invocation still working the same job. Anything else is a bug that a retry would repeat.
 */
function isTransient(error: unknown): boolean {
  return (
    error instanceof DependencyUnavailableError ||
    error instanceof IdempotencyPersistenceLayerError ||
    error instanceof IdempotencyAlreadyInProgressError ||
    error instanceof IdempotencyInconsistentStateError
  );
}
