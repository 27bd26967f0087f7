import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowKey } from '../../lib/codes/code';
import { confirmReset } from '../../lib/confirm-reset';
import { DependencyUnavailableError } from '../../lib/errors';
import type { ResetJob } from '../../lib/jobs/reset-job';
import { tokenTableIdempotencyStore } from '../../lib/jobs/sqs-plumbing';
import type { ProcessResetJobDeps } from '../../lib/process-reset-job';
import { requestReset } from '../../lib/request-reset';
import { createResetWorker, type ResetJobDeadLetter, type ResetWorkerEvent } from '../../lib/reset-worker';
import { lambdaContext } from '../../local/api-gateway';
import { createTestWorld, type TestWorld } from '../support/deps';
import { sqsEvent, sqsRecord } from '../support/sqs-records';

/**
 * The reset worker over real DynamoDB Local tables (the idempotency records included): each job
 * worked once, retried while a dependency is down, dropped once worthless, dead-lettered in the end.
 */
const EMAIL = 'worker.user@example.com';
const meta = { sourceIp: '198.51.100.30', requestId: 'worker-test' };

let world: TestWorld;
beforeAll(async () => {
  world = await createTestWorld({ RESET_METHODS: 'link,code', RESET_JOB_MAX_ATTEMPTS: '3' });
  await world.accounts.create(EMAIL, 'the original passphrase', 4);
});
afterAll(() => world?.destroy());

function worker(overrides: Partial<ProcessResetJobDeps> = {}) {
  const retries: Array<{ receiptHandle: string; seconds: number }> = [];
  const deadLetters: ResetJobDeadLetter[] = [];
  const events: Array<{ event: ResetWorkerEvent; fields: Record<string, unknown> }> = [];
  const handler = createResetWorker({
    ...world.workerDeps,
    ...overrides,
    persistenceStore: tokenTableIdempotencyStore(world.config.tokenTableName, world.rawClient),
    queue: {
      retryLater: async (receiptHandle, seconds) => {
        retries.push({ receiptHandle, seconds });
      },
      deadLetter: async (letter) => {
        deadLetters.push(letter);
      },
    },
    jitter: () => 0.5,
    report: (event, fields) => events.push({ event, fields }),
    policy: world.config.resetJobs,
  });
  const run = (...records: ReturnType<typeof sqsRecord>[]): Promise<SQSBatchResponse> =>
    handler(sqsEvent(...records), lambdaContext('password-reset-worker', 30_000));
  return { run, retries, deadLetters, events };
}

async function queuedJob(method: 'link' | 'code' = 'link', email = EMAIL): Promise<ResetJob> {
  const answer = await requestReset({ email, method, ...meta }, world.requestDeps);
  if (answer.status !== 'accepted') throw new Error(answer.status);
  return world.jobs.take(answer.jobId);
}
const mailsTo = (email: string) => world.outbox.outbox().filter((m) => m.to === email).length;

describe('the reset worker', () => {
  it('works a job the queue delivers twice exactly once: one credential, one email', async () => {
    const job = await queuedJob();
    const { run } = worker();
    const before = mailsTo(EMAIL);

    const first = await run(sqsRecord(job));
    const second = await run(sqsRecord(job));

    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect(mailsTo(EMAIL)).toBe(before + 1);
  });

  it('retries a job while the store is unavailable, with backoff, and sends it once it is back', async () => {
    const job = await queuedJob();
    const down = worker({
      tokens: { saveActive: () => Promise.reject(new DependencyUnavailableError('DynamoDB')) },
    });
    const record = sqsRecord(job);
    const before = mailsTo(EMAIL);

    const failed = await down.run(record);

    expect(failed.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(down.retries).toEqual([{ receiptHandle: record.receiptHandle, seconds: 1 }]);
    expect(down.events.map((e) => e.event)).toEqual(['reset_job_retry_scheduled']);
    expect(mailsTo(EMAIL)).toBe(before);

    const retried = await worker().run(sqsRecord(job, 2));

    expect(retried.batchItemFailures).toEqual([]);
    expect(mailsTo(EMAIL)).toBe(before + 1);
    expect(
      (
        await confirmReset(
          { token: world.lastToken(), newPassword: 'a brand new passphrase', ...meta },
          world.confirmDeps,
        )
      ).status,
    ).toBe('completed');
  });

  it('dead-letters a job out of attempts with the account key and no address, and a malformed body at once', async () => {
    const job = await queuedJob();
    const down = worker({
      tokens: { saveActive: () => Promise.reject(new DependencyUnavailableError('DynamoDB')) },
    });

    const exhausted = await down.run(
      sqsRecord(job, world.config.resetJobs.maxAttempts),
      sqsRecord('{"not":"a job"}'),
    );

    expect(exhausted.batchItemFailures).toEqual([]);
    expect(down.deadLetters.map((letter) => letter.reason).sort()).toEqual([
      'malformed',
      'retries_exhausted',
    ]);
    const letter = down.deadLetters.find((l) => l.reason === 'retries_exhausted');
    expect(letter).toMatchObject({
      jobId: job.id,
      method: 'link',
      accountKey: world.workerDeps.pseudonymize('account', EMAIL),
      code: 'DependencyUnavailableError',
      attempts: 3,
    });
    expect(JSON.stringify(down.deadLetters)).not.toContain(EMAIL);
  });

  it('dead-letters a job that fails for a reason no retry mends, without retrying it', async () => {
    const job = await queuedJob();
    const broken = worker({ tokens: { saveActive: () => Promise.reject(new TypeError('a bug')) } });

    const result = await broken.run(sqsRecord(job));

    expect(result.batchItemFailures).toEqual([]);
    expect(broken.retries).toEqual([]);
    expect(broken.deadLetters).toMatchObject([{ reason: 'permanent', code: 'TypeError' }]);
  });

  it('drops a job older than the credential it would issue, and sends nothing', async () => {
    const job = await queuedJob();
    const before = mailsTo(EMAIL);
    world.clock.advance(world.config.tokenTtlMinutes * 60_000);

    const result = await worker().run(sqsRecord(job));

    expect(result.batchItemFailures).toEqual([]);
    expect(mailsTo(EMAIL)).toBe(before);
    expect(world.audits.map((a) => a.entry)).toContainEqual({
      event: 'reset_email_suppressed',
      reason: 'job_expired',
    });
  });

  it('lets a retried code job replace the flow its own earlier attempt stored, and the mailed code works', async () => {
    const job = await queuedJob('code');
    const flowId = job.flowId as string;
    let handOffs = 0;
    const lostHandOff = worker({
      sendEmail: async (request) => {
        handOffs++;
        return handOffs === 1
          ? { delivered: false, reason: 'provider_error' }
          : world.workerDeps.sendEmail(request);
      },
    });

    const failed = await lostHandOff.run(sqsRecord(job));
    const storedAfterFailure = await world.flows.attempts(flowKey(flowId));
    const retried = await lostHandOff.run(sqsRecord(job, 2));
    const code = /^Reset code: ([0-9]+)$/m.exec(world.outbox.outbox().at(-1)?.text ?? '')?.[1] ?? '';

    expect(failed.batchItemFailures).toHaveLength(1);
    expect(storedAfterFailure).toBe(0);
    expect(retried.batchItemFailures).toEqual([]);
    expect(
      await confirmReset({ flowId, code, newPassword: 'another new passphrase', ...meta }, world.confirmDeps),
    ).toEqual({
      status: 'completed',
    });
  });

  it('never lets another job overwrite a stored flow', async () => {
    const job = await queuedJob('code');
    const flowId = job.flowId as string;
    await worker().run(sqsRecord(job));
    // One wrong guess charged on the flow: an overwrite would put its attempts back to 0.
    await confirmReset(
      { flowId, code: '00000000', newPassword: 'another new passphrase', ...meta },
      world.confirmDeps,
    );
    const impostor: ResetJob = { ...job, id: '00000000-0000-4000-8000-000000000001' };
    const second = worker();

    await second.run(sqsRecord(impostor));

    expect(await world.flows.attempts(flowKey(flowId))).toBe(1);
    expect(second.deadLetters).toMatchObject([{ jobId: impostor.id, reason: 'permanent' }]);
  });
});
