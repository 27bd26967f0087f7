import type { Audit, AuditContext, SuppressReason } from './audit';
import type { Clock } from './clock';
import { type CodeHasher, flowKey, generateCode, phantomCodeHash } from './codes/code';
import type { FlowStore } from './codes/flow-store';
import type { Config } from './config';
import type { KillSwitch, KillSwitchState } from './email/kill-switch';
import type { SendEmail } from './email/send-email';
import type { SuppressionStore } from './email/suppression-store';
import { DependencyUnavailableError } from './errors';
import type { ResetJob } from './jobs/reset-job';
import { networkKey } from './limits/network';
import type { RateLimiter } from './limits/rate-limiter';
import type { Pseudonymize } from './pseudonym';
import { issueToken, type RandomBytes } from './tokens/token';
import type { StoredToken, TokenStore } from './tokens/token-store';
import { normalizeEmail } from './users/email-address';
import type { UserAccount, UserStore } from './users/user-store';

export interface ProcessResetJobDeps {
  users: Pick<UserStore, 'findByEmail' | 'readBinding'>;
  tokens: Pick<TokenStore, 'saveActive'>;
  /** Code mode: phantom flows (a real flow is saved through `tokens`, as the active credential). */
  flows: Pick<FlowStore, 'savePhantom'>;
  /** HMAC of a code bound to its flow (lib/codes/code.ts). */
  hashCode: CodeHasher;
  rateLimiter: Pick<RateLimiter, 'hit' | 'refund'>;
  killSwitch: KillSwitch;
  sendEmail: SendEmail;
  /** Addresses that bounced or complained: nothing is sent to them. */
  suppressions: Pick<SuppressionStore, 'isSuppressed'>;
  audit: Audit;
  pseudonymize: Pseudonymize;
  clock: Clock;
  random: RandomBytes;
  config: Pick<Config, 'rateLimits' | 'tokenTtlMinutes' | 'resetLinkTemplate' | 'codes'>;
}

export type ResetJobResult = { status: 'emailed' } | { status: 'suppressed'; reason: SuppressReason };

/**
 * The account's part of a reset, run by the reset worker from the job queue: the lookup, the
 * silent per-account limits, the suppression list, the kill-switch, the one active credential and
 * the email hand-off. Nobody waits on it, so it takes the time it needs: a slow store delays the
 * mail and loses nothing. A failure a retry can mend (DynamoDB, SSM or the email queue unavailable)
 * throws DependencyUnavailableError after giving back the account limits it charged, so the retry
 * is counted once; the worker retries with backoff and dead-letters what never succeeds.
 */
export async function processResetJob(job: ResetJob, deps: ProcessResetJobDeps): Promise<ResetJobResult> {
  const accountKey = deps.pseudonymize('account', job.email);
  const context: AuditContext = { requestId: job.requestId, sourceIp: job.sourceIp, accountKey };
  const method = job.method === 'code' ? codeMethod(job, deps) : linkMethod(job, deps);
  const suppress = async (reason: SuppressReason, credentialPossible = true): Promise<ResetJobResult> => {
    if (credentialPossible) await method.notIssued(accountKey);
    deps.audit({ event: 'reset_email_suppressed', reason }, context);
    return { status: 'suppressed', reason };
  };
  // Never extended: a credential lives from the request, so a job older than that is worthless.
  if (deps.clock.now() >= method.expiresAt) return suppress('job_expired', false);

  const user = await deps.users.findByEmail(job.email);
  if (!user) return suppress('unknown_account');
  const gate = await gateAccount(job, accountKey, deps);
  if (typeof gate === 'string') return suppress(gate);

  try {
    const { credential, email } = method.prepare(user);
    // Dry run changes nothing for users: no credential is stored and no pointer moves, so one
    // already delivered keeps working; sendEmail logs the rendered mail with its secrets redacted.
    if (gate.switchState === 'dry_run') {
      await deps.sendEmail({ ...email, switchState: 'dry_run' });
      return suppress('dry_run');
    }
    const saved = await saveBoundCredential(job, { ...credential, emailKey: accountKey }, deps);
    if (saved === 'unknown_account') return suppress('unknown_account');
    if (job.method === 'code') deps.audit({ event: 'code_issued' }, context);
    const outcome = await deps.sendEmail({ ...email, switchState: 'deliver' });
    if (!outcome.delivered) throw new DependencyUnavailableError(`email hand-off (${outcome.reason})`);
  } catch (error) {
    await gate.giveBack().catch(() => undefined);
    throw error;
  }
  deps.audit({ event: 'reset_email_sent' }, context);
  return { status: 'emailed' };
}

/** The email a method sends, minus the kill-switch state, which the job decides. */
type EmailRequest = Omit<Parameters<SendEmail>[0], 'switchState'>;

/**
 * What varies between a link and a code when one is issued. `prepare` makes the secret and its
 * email without storing anything; `notIssued` is what a job that sends nothing leaves behind.
 */
interface IssueMethod {
  expiresAt: number;
  prepare(user: UserAccount): {
    credential: Omit<StoredToken, 'credentialVersion' | 'emailKey'>;
    email: EmailRequest;
  };
  notIssued(accountKey: string): Promise<void>;
}

function linkMethod(job: ResetJob, deps: ProcessResetJobDeps): IssueMethod {
  const ttlMinutes = deps.config.tokenTtlMinutes;
  const expiresAt = job.requestedAt + ttlMinutes * 60_000;
  return {
    expiresAt,
    prepare: (user) => {
      const token = issueToken(deps.random);
      const link = deps.config.resetLinkTemplate.replace('{token}', encodeURIComponent(token.value));
      return {
        credential: {
          selector: token.selector,
          userId: user.userId,
          verifierHash: token.verifierHash,
          expiresAt,
        },
        email: {
          to: user.email,
          template: 'password_reset',
          data: { link, expiresAt: new Date(expiresAt), expiresInMinutes: remainingMinutes(expiresAt, deps) },
          secrets: [token.value, link],
        },
      };
    },
    // A link request that sends nothing leaves nothing: no item names it.
    notIssued: async () => undefined,
  };
}

/**
 * One flow item per code request, known account or not: a job that sends no code leaves a
 * phantom flow whose stored HMAC no code matches, so confirm does the same work on it, in the same
 * time, with the same answer as on a real flow with a wrong code. A real flow becomes the
 * account's one active credential, superseding any link or code sent before.
 */
function codeMethod(job: ResetJob, deps: ProcessResetJobDeps): IssueMethod {
  const { ttlMinutes, length } = deps.config.codes;
  const expiresAt = job.requestedAt + ttlMinutes * 60_000;
  const flowId = job.flowId as string;
  const key = flowKey(flowId);
  return {
    expiresAt,
    prepare: (user) => {
      const code = generateCode(deps.random, length);
      return {
        credential: {
          kind: 'flow',
          selector: key,
          userId: user.userId,
          verifierHash: deps.hashCode(flowId, code),
          expiresAt,
        },
        email: {
          to: user.email,
          template: 'password_reset_code',
          data: { code, expiresAt: new Date(expiresAt), expiresInMinutes: remainingMinutes(expiresAt, deps) },
          secrets: [code],
        },
      };
    },
    // attribute_not_exists: never overwrites a real flow that an earlier attempt committed.
    notIssued: (emailKey) =>
      deps.flows
        .savePhantom(
          { flowKey: key, codeHash: phantomCodeHash(deps.random), emailKey, expiresAt },
          deps.clock.now(),
        )
        .catch(() => undefined),
  };
}

/** What the email says is left: the lifetime counts from the request, not from this moment. */
function remainingMinutes(expiresAt: number, deps: ProcessResetJobDeps): number {
  return Math.max(1, Math.ceil((expiresAt - deps.clock.now()) / 60_000));
}

interface OpenGate {
  switchState: Extract<KillSwitchState, 'deliver' | 'dry_run'>;
  /** Gives back the account limits this job charged, before a retry charges them again. */
  giveBack(): Promise<void>;
}

/**
 * The per-account limits, the suppression list and the one kill-switch read for this job. An
 * unreadable kill-switch fails closed without losing the reset: the job is retried later.
 */
async function gateAccount(
  job: ResetJob,
  accountKey: string,
  deps: ProcessResetJobDeps,
): Promise<OpenGate | 'throttled' | 'suppressed_address' | 'kill_switch'> {
  const [limits, switchState, suppressed] = await Promise.allSettled([
    hitAccountLimits(job, accountKey, deps),
    deps.killSwitch.read(),
    deps.suppressions.isSuppressed(accountKey, deps.clock.now()),
  ]);
  if (limits.status === 'rejected' || switchState.status === 'rejected' || suppressed.status === 'rejected') {
    if (limits.status === 'fulfilled') await limits.value.giveBack().catch(() => undefined);
    const failed = [limits, switchState, suppressed].find((result) => result.status === 'rejected');
    throw (failed as PromiseRejectedResult).reason;
  }
  const { giveBack } = limits.value;
  if (!limits.value.allowed) return 'throttled';
  if (suppressed.value) return 'suppressed_address';
  if (switchState.value === 'disabled') return 'kill_switch';
  if (switchState.value === 'unavailable') {
    await giveBack().catch(() => undefined);
    throw new DependencyUnavailableError('SSM (kill-switch)');
  }
  return { switchState: switchState.value, giveBack };
}

/**
 * Makes `credential` the account's one active link or code, bound to the account's current email
 * and credentialVersion (a consistent read: the index may lag an email change). The job id goes
 * with it, so a retry of this job may replace what its own earlier attempt stored.
 */
async function saveBoundCredential(
  job: ResetJob,
  credential: Omit<StoredToken, 'credentialVersion'>,
  deps: ProcessResetJobDeps,
): Promise<'saved' | 'unknown_account'> {
  const binding = await deps.users.readBinding(credential.userId);
  if (!binding || normalizeEmail(binding.email) !== job.email) return 'unknown_account';
  await deps.tokens.saveActive(
    { ...credential, credentialVersion: binding.credentialVersion, jobId: job.id },
    deps.clock.now(),
  );
  return 'saved';
}

/**
 * The silent per-account limits: one budget per account AND client network, so an attacker on
 * one network cannot use up the victim's, and a looser account-wide cap so no mailbox is flooded
 * from many networks. A network hit that the cap then denies is given back. Windows are taken at
 * the request's time, so a retried job lands in the windows its request did.
 */
async function hitAccountLimits(
  job: ResetJob,
  accountKey: string,
  deps: ProcessResetJobDeps,
): Promise<{ allowed: boolean; giveBack: () => Promise<void> }> {
  const { requestPerAccount, requestPerAccountTotal } = deps.config.rateLimits;
  const at = job.requestedAt;
  const perNetworkKey = `${accountKey}.${deps.pseudonymize('ip', networkKey(job.sourceIp))}`;
  const nothing = async () => undefined;
  const perNetwork = await deps.rateLimiter.hit('request-account', perNetworkKey, requestPerAccount, at);
  if (!perNetwork.allowed) return { allowed: false, giveBack: nothing };
  const refundNetwork = () =>
    deps.rateLimiter.refund('request-account', perNetworkKey, requestPerAccount, at);
  const total = await deps.rateLimiter
    .hit('request-account-all', accountKey, requestPerAccountTotal, at)
    .catch(async (error: unknown) => {
      await refundNetwork().catch(() => undefined);
      throw error;
    });
  if (!total.allowed) {
    await refundNetwork();
    return { allowed: false, giveBack: nothing };
  }
  return {
    allowed: true,
    giveBack: async () => {
      await Promise.all([
        refundNetwork(),
        deps.rateLimiter.refund('request-account-all', accountKey, requestPerAccountTotal, at),
      ]);
    },
  };
}
