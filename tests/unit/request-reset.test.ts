import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit';
import { loadConfig } from '../../lib/config';
import { DependencyUnavailableError } from '../../lib/errors';
import type { RateDecision } from '../../lib/limits/rate-limiter';
import { type RequestResetDeps, requestReset } from '../../lib/request-reset';
import { manualClock, sequentialRandom } from '../support/clock';
import { MemoryJobQueue } from '../support/deps';

/** The request use case alone, in memory: what the answer's path does, and that it is the same for every address. */
const meta = { sourceIp: '203.0.113.9', requestId: 'unit' };

function setup(env: Record<string, string> = {}, decision: RateDecision = { allowed: true }) {
  const config = loadConfig({
    TOKEN_TABLE_NAME: 'tokens',
    USERS_TABLE_NAME: 'users',
    KILL_SWITCH_PARAMETER_NAME: '/unit/kill-switch',
    RESET_LINK_TEMPLATE: 'https://market.example.com/reset#token={token}',
    ...env,
  });
  const hits: Array<{ scope: string; key: string }> = [];
  const audits: AuditEvent[] = [];
  const jobs = new MemoryJobQueue();
  const clock = manualClock();
  const deps: RequestResetDeps = {
    rateLimiter: {
      hit: async (scope, key) => {
        hits.push({ scope, key });
        return decision;
      },
    },
    jobs,
    audit: (entry) => audits.push(entry),
    pseudonymize: (purpose, value) => `${purpose}:${value}`,
    clock,
    random: sequentialRandom(),
    onFloorExceeded: () => undefined,
    config,
  };
  return { deps, hits, audits, jobs, clock };
}

describe('requestReset', () => {
  it('hands every address the same kind of job after one per-IP hit, and nothing else', async () => {
    const { deps, hits, jobs } = setup();

    const first = await requestReset({ email: '  Jane@Example.COM ', ...meta }, deps);
    const second = await requestReset({ email: 'nobody@example.com', ...meta }, deps);

    expect(first).toEqual({ status: 'accepted', jobId: expect.any(String) });
    expect(second).toEqual({ status: 'accepted', jobId: expect.any(String) });
    expect(hits.map((hit) => hit.scope)).toEqual(['request-ip', 'request-ip']);
    expect(jobs.queued.map((job) => job.email)).toEqual(['jane@example.com', 'nobody@example.com']);
    expect(jobs.queued[0]).toMatchObject({ method: 'link', sourceIp: meta.sourceIp, requestId: 'unit' });
    expect(jobs.queued[0]?.id).not.toBe(jobs.queued[1]?.id);
  });

  it('gives every code request a flowId and puts the same flowId in its job', async () => {
    const { deps, jobs } = setup({ RESET_METHODS: 'code' });

    const result = await requestReset({ email: 'jane@example.com', ...meta }, deps);

    expect(result).toMatchObject({ status: 'accepted', flowId: expect.stringMatching(/^[\w-]{22}$/) });
    expect(jobs.queued[0]?.flowId).toBe((result as { flowId: string }).flowId);
  });

  it('refuses an IP over its limit before any hand-off', async () => {
    const { deps, jobs, audits } = setup({}, { allowed: false, retryAfterSeconds: 42 });

    const result = await requestReset({ email: 'jane@example.com', ...meta }, deps);

    expect(result).toEqual({ status: 'rate_limited', retryAfterSeconds: 42 });
    expect(jobs.queued).toEqual([]);
    expect(audits).toEqual([{ event: 'reset_rejected', reason: 'rate_limited' }]);
  });

  it('refuses a method that is not enabled before any work', async () => {
    const { deps, hits, jobs } = setup();

    const result = await requestReset({ email: 'jane@example.com', method: 'code', ...meta }, deps);

    expect(result).toEqual({ status: 'method_not_enabled' });
    expect(hits).toEqual([]);
    expect(jobs.queued).toEqual([]);
  });

  it('fails every address alike when the queue does not take the job', async () => {
    const { deps, jobs } = setup();
    jobs.failWith = new DependencyUnavailableError('SQS');

    const known = requestReset({ email: 'jane@example.com', ...meta }, deps);
    const unknown = requestReset({ email: 'nobody@example.com', ...meta }, deps);

    await expect(known).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(unknown).rejects.toBeInstanceOf(DependencyUnavailableError);
  });

  it('waits out the optional floor, and waits not at all by default', async () => {
    const floored = setup({ REQUEST_RESPONSE_FLOOR_MS: '120' });
    const plain = setup();

    await requestReset({ email: 'jane@example.com', ...meta }, floored.deps);
    await requestReset({ email: 'jane@example.com', ...meta }, plain.deps);

    expect(floored.clock.slept).toEqual([120]);
    expect(plain.clock.slept).toEqual([]);
  });
});
