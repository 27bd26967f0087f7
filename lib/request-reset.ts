import type { Audit, AuditContext } from './audit';
import type { Clock } from './clock';
import { newFlowId } from './codes/code';
import type { Config, ResetMethod } from './config';
import { newJobId, type ResetJobQueue } from './jobs/reset-job';
import { ipKey } from './limits/network';
import type { RateLimiter } from './limits/rate-limiter';
import type { Pseudonymize } from './pseudonym';
import type { RandomBytes } from './tokens/token';
import { normalizeEmail } from './users/email-address';

export interface RequestResetDeps {
  rateLimiter: Pick<RateLimiter, 'hit'>;
  jobs: ResetJobQueue;
  audit: Audit;
  pseudonymize: Pseudonymize;
  clock: Clock;
  random: RandomBytes;
  /** Reports an answer that took longer than the optional floor. */
  onFloorExceeded: (elapsedMs: number) => void;
  config: Pick<Config, 'rateLimits' | 'requestResponseFloorMs' | 'resetMethods'>;
}

export interface RequestResetInput {
  email: string;
  sourceIp: string;
  requestId: string;
  /** Absent: the first of RESET_METHODS. */
  method?: ResetMethod | undefined;
}

/**
 * The HTTP answer is the same 200 for every `accepted` outcome; a code request's answer differs
 * only by its flowId, which every request gets. What the account's work then does is the
 * worker's (lib/process-reset-job.ts) and never reaches this answer.
 */
export type RequestResetResult =
  | { status: 'method_not_enabled' }
  | { status: 'rate_limited'; retryAfterSeconds: number }
  | { status: 'accepted'; jobId: string; flowId?: string };

/**
 * Starts a reset. Nothing here reads or writes anything of the account: the answer's path is the
 * method check, the per-IP limit and one queue hand-off, the same calls for every address, so its
 * status, body, headers and timing cannot depend on whether the account exists. The lookup, the
 * silent per-account limits, the credential and the email are the reset worker's.
 */
export async function requestReset(
  input: RequestResetInput,
  deps: RequestResetDeps,
): Promise<RequestResetResult> {
  // Decided by configuration alone, before any work: the same 400 for every address.
  const method = input.method ?? (deps.config.resetMethods[0] as ResetMethod);
  if (!deps.config.resetMethods.includes(method)) return { status: 'method_not_enabled' };
  const startedAt = deps.clock.now();
  const context: AuditContext = { requestId: input.requestId, sourceIp: input.sourceIp };

  const ipDecision = await deps.rateLimiter.hit(
    'request-ip',
    deps.pseudonymize('ip', ipKey(input.sourceIp)),
    deps.config.rateLimits.requestPerIp,
    startedAt,
  );
  if (!ipDecision.allowed) {
    deps.audit({ event: 'reset_rejected', reason: 'rate_limited' }, context);
    return { status: 'rate_limited', retryAfterSeconds: ipDecision.retryAfterSeconds };
  }

  const email = normalizeEmail(input.email);
  context.accountKey = deps.pseudonymize('account', email);
  // Every code request gets a flowId, known account or not: only its value differs.
  const flowId = method === 'code' ? newFlowId(deps.random) : undefined;
  const jobId = newJobId(deps.random);
  // A queue that does not take the job fails every address alike (a 503): nothing is revealed.
  await deps.jobs.enqueue({
    id: jobId,
    email,
    method,
    ...(flowId === undefined ? {} : { flowId }),
    sourceIp: input.sourceIp,
    requestId: input.requestId,
    requestedAt: startedAt,
  });
  deps.audit({ event: 'reset_requested' }, context);

  // Optional, for deployments that want one answer time whatever the client's own latency:
  // timing safety does not rest on it any more.
  const floor = deps.config.requestResponseFloorMs;
  const elapsed = deps.clock.now() - startedAt;
  if (elapsed < floor) await deps.clock.sleep(floor - elapsed);
  else if (floor > 0) deps.onFloorExceeded(elapsed);
  return { status: 'accepted', jobId, ...(flowId === undefined ? {} : { flowId }) };
}
