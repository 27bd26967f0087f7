import { randomUUID } from 'node:crypto';
import type { Audit, AuditContext, CodeRejectReason } from './audit';
import type { Clock } from './clock';
import { type CodeHasher, codeMatches, flowKey, isFlowId } from './codes/code';
import type { FlowStore } from './codes/flow-store';
import type { Config } from './config';
import type { SendEmail } from './email/send-email';
import { passwordChangedOutboxItem } from './events/password-changed';
import { ipKey } from './limits/network';
import type { RateLimiter } from './limits/rate-limiter';
import type { CheckBreached } from './passwords/breach-check';
import type { HashPassword } from './passwords/password-hasher';
import { checkPassword, type PolicyViolation } from './passwords/password-policy';
import type { Pseudonymize } from './pseudonym';
import { parseToken, verifierMatches } from './tokens/token';
import type { TokenCandidate, TokenStore } from './tokens/token-store';
import { normalizeEmail } from './users/email-address';

export interface ConfirmResetDeps {
  tokens: Pick<
    TokenStore,
    'findCandidate' | 'readCandidate' | 'claim' | 'release' | 'consumeAndChangePassword'
  >;
  /** Code mode: the attempt charge (before any comparison) and its refund for a right code. */
  flows: Pick<FlowStore, 'chargeAttempt' | 'refundAttempt'>;
  hashCode: CodeHasher;
  rateLimiter: Pick<RateLimiter, 'hit' | 'refund'>;
  hashPassword: HashPassword;
  /** The optional breached-password check (PASSWORD_BREACH_CHECK); it fails open. */
  checkBreached?: CheckBreached;
  sendEmail: SendEmail;
  audit: Audit;
  pseudonymize: Pseudonymize;
  clock: Clock;
  config: Pick<Config, 'rateLimits' | 'passwordPolicy' | 'passwordChangedEvents' | 'codes'>;
}

interface ConfirmCommon {
  newPassword: string;
  sourceIp: string;
  requestId: string;
  /** Epoch ms at which the early-timeout 503 goes out; nothing may commit after it. */
  deadline?: number;
}

/** A link's token, or a code flow's flowId and the emailed code. */
export type ConfirmResetInput = ConfirmCommon & ({ token: string } | { flowId: string; code: string });

/** A claim lapses by itself after this long (or at the deadline), so a dead confirm frees the token. */
export const CLAIM_LEASE_MS = 30_000;

export type ConfirmResetResult =
  | { status: 'completed' }
  | { status: 'invalid_token' }
  | { status: 'invalid_code' }
  | { status: 'weak_password'; violations: PolicyViolation[] }
  | { status: 'rate_limited'; retryAfterSeconds: number };

type InvalidReason =
  | 'malformed'
  | 'unknown'
  | 'wrong_verifier'
  | 'expired'
  | 'superseded'
  | 'no_user'
  | 'credentials_changed'
  | 'claimed_by_another'
  | 'already_used';

/** Shared by both methods from the moment the credential is proven. */
interface Proven {
  method: 'link' | 'code';
  candidate: TokenCandidate & { userEmail: string };
  /** Refuses with the method's own answer and audit line. */
  invalid: (reason: InvalidReason & CodeRejectReason) => ConfirmResetResult;
  /** The breached-password check already ran for this password (codes run it first). */
  breachChecked: boolean;
  /** A code's attempt is given back when the password, not the code, was refused. */
  onWeakPassword: () => Promise<void>;
}

interface Step {
  context: AuditContext;
  deps: ConfirmResetDeps;
  refundFailure: () => Promise<void>;
}

/**
 * Sets a new password with a reset token or a code. The credential is checked before any bcrypt
 * work, so guessing costs the attacker as much as it costs us. The final write re-checks every
 * condition atomically; the checks before it only fail fast.
 */
export async function confirmReset(
  input: ConfirmResetInput,
  deps: ConfirmResetDeps,
): Promise<ConfirmResetResult> {
  const now = deps.clock.now();
  const context: AuditContext = { requestId: input.requestId, sourceIp: input.sourceIp };
  const { confirmPerIp, confirmFailuresPerIp } = deps.config.rateLimits;
  // IPv6 by its /64, as on the request path: one host rotating addresses is one client.
  const clientKey = deps.pseudonymize('ip', ipKey(input.sourceIp));

  // Every attempt is charged to the failure budget up front and refunded if it was not a
  // bad token or code. Charging first is what keeps a concurrent burst from overshooting.
  const [ipDecision, failureDecision] = await Promise.all([
    deps.rateLimiter.hit('confirm-ip', clientKey, confirmPerIp, now),
    deps.rateLimiter.hit('confirm-fail-ip', clientKey, confirmFailuresPerIp, now),
  ]);
  const denied = [ipDecision, failureDecision].filter((decision) => !decision.allowed);
  if (denied.length > 0) {
    deps.audit({ event: 'reset_rejected', reason: 'rate_limited' }, context);
    return {
      status: 'rate_limited',
      retryAfterSeconds: Math.max(...denied.map((d) => (d.allowed ? 0 : d.retryAfterSeconds))),
    };
  }
  const step: Step = {
    context,
    deps,
    refundFailure: () => deps.rateLimiter.refund('confirm-fail-ip', clientKey, confirmFailuresPerIp, now),
  };

  const proven =
    'token' in input
      ? await proveLink(input.token, now, step)
      : await proveCode(input.flowId, input.code, input.newPassword, now, step);
  if ('status' in proven) return proven;
  return completeReset(proven, input, step);
}

/** The link's checks: selector, verifier, expiry, newest token, binding. */
async function proveLink(
  token: string,
  now: number,
  { context, deps }: Step,
): Promise<Proven | ConfirmResetResult> {
  const invalid = (detail: InvalidReason): ConfirmResetResult => {
    deps.audit({ event: 'reset_rejected', reason: 'invalid_or_expired_token', detail }, context);
    return { status: 'invalid_token' };
  };
  const parsed = parseToken(token);
  if (!parsed) return invalid('malformed');
  const candidate = await deps.tokens.findCandidate(parsed.selector);
  if (!candidate) return invalid('unknown');
  if (!verifierMatches(parsed.verifier, candidate.token.verifierHash)) return invalid('wrong_verifier');
  if (candidate.token.expiresAt <= now) return invalid('expired');
  const bound = checkBinding(candidate, invalid, context, deps);
  if ('status' in bound) return bound;
  return { method: 'link', candidate: bound, invalid, breachChecked: false, onWeakPassword: async () => {} };
}

/**
 * A code's checks, in the order that makes the budget hold:
 * 1. the password policy without the account (a 422 charges nothing and leaves the code usable);
 * 2. one attempt charged on the flow, atomically, before any comparison;
 * 3. one failure charged to the account's budget, which new flows do not reset;
 * 4. the constant-time comparison; only a right code is refunded (3) and goes on.
 * A phantom flow goes through every step alike and fails at 4, as a wrong code does.
 */
async function proveCode(
  flowId: string,
  code: string,
  newPassword: string,
  now: number,
  { context, deps, refundFailure }: Step,
): Promise<Proven | ConfirmResetResult> {
  const invalid = (reason: CodeRejectReason): ConfirmResetResult => {
    deps.audit({ event: 'code_rejected', reason }, context);
    return { status: 'invalid_code' };
  };
  const exhausted = (budget: 'flow' | 'account'): ConfirmResetResult => {
    deps.audit({ event: 'code_budget_exhausted', reason: budget }, context);
    return { status: 'invalid_code' };
  };

  const violations = await checkNewPassword(newPassword, undefined, deps);
  if (violations.length > 0) return weakPassword(violations, { context, deps, refundFailure });

  if (!isFlowId(flowId)) return invalid('unknown_flow');
  const key = flowKey(flowId);
  const charged = await deps.flows.chargeAttempt(key, deps.config.codes.maxAttempts, now);
  if (charged === 'budget_exhausted') return exhausted('flow');
  if (typeof charged === 'string') return invalid(charged);
  context.accountKey = charged.emailKey;

  const rules = deps.config.rateLimits.codeFailuresPerAccount;
  const account = await deps.rateLimiter.hit('code-fail-account', charged.emailKey, rules, now);
  if (!account.allowed) return exhausted('account');

  if (!codeMatches(deps.hashCode(flowId, code), charged.codeHash) || !charged.credential)
    return invalid('wrong_code');
  // A right code is no failed guess, whatever happens next. A lost refund costs only this
  // account one failure of its budget; it must not turn a right code into a 503.
  await deps.rateLimiter.refund('code-fail-account', charged.emailKey, rules, now).catch(() => undefined);

  const candidate = await deps.tokens.readCandidate(charged.credential);
  const bound = checkBinding(candidate, invalid, context, deps);
  if ('status' in bound) return bound;
  return {
    method: 'code',
    candidate: bound,
    invalid,
    breachChecked: true,
    onWeakPassword: () => deps.flows.refundAttempt(key),
  };
}

/**
 * The credential dies with the credentials it was sent for: a newer link or code, or an email
 * or password change made elsewhere since it was issued. The transaction re-checks all of it.
 */
function checkBinding(
  candidate: TokenCandidate,
  invalid: (reason: InvalidReason & CodeRejectReason) => ConfirmResetResult,
  context: AuditContext,
  deps: ConfirmResetDeps,
): (TokenCandidate & { userEmail: string }) | ConfirmResetResult {
  if (!candidate.isActive) return invalid('superseded');
  if (candidate.userEmail === undefined) return invalid('no_user');
  const accountKey = deps.pseudonymize('account', normalizeEmail(candidate.userEmail));
  context.accountKey = accountKey;
  if (accountKey !== candidate.token.emailKey) return invalid('credentials_changed');
  if (candidate.credentialVersion !== candidate.token.credentialVersion)
    return invalid('credentials_changed');
  return candidate as TokenCandidate & { userEmail: string };
}

async function checkNewPassword(
  newPassword: string,
  email: string | undefined,
  deps: ConfirmResetDeps,
  checkBreach = true,
): Promise<PolicyViolation[]> {
  const violations = checkPassword(newPassword, deps.config.passwordPolicy, { email });
  if (checkBreach && violations.length === 0 && (await deps.checkBreached?.(newPassword)))
    violations.push({ rule: 'breached', message: 'This password has appeared in a data breach.' });
  return violations;
}

async function weakPassword(
  violations: PolicyViolation[],
  { context, deps, refundFailure }: Step,
): Promise<ConfirmResetResult> {
  await refundFailure();
  deps.audit(
    { event: 'reset_rejected', reason: 'weak_password', detail: violations.map((v) => v.rule).join(',') },
    context,
  );
  return { status: 'weak_password', violations };
}

/** From a proven credential to the new password: policy, claim, one hash, one transaction. */
async function completeReset(
  proven: Proven,
  input: ConfirmCommon,
  { context, deps, refundFailure }: Step,
): Promise<ConfirmResetResult> {
  const { candidate, invalid } = proven;
  const { token } = candidate;
  const violations = await checkNewPassword(
    input.newPassword,
    candidate.userEmail,
    deps,
    !proven.breachChecked,
  );
  if (violations.length > 0) {
    await proven.onWeakPassword();
    return weakPassword(violations, { context, deps, refundFailure });
  }

  // One hash per credential: claim it before bcrypt, so concurrent confirms of one link or code
  // cost one hash and every loser is refused at once. A loser presented a valid credential, so it
  // is no guess: its failure charge is given back.
  const owner = randomUUID();
  const claimedAt = deps.clock.now();
  const claimed = await deps.tokens.claim({
    ...(token.kind ? { kind: token.kind } : {}),
    selector: token.selector,
    verifierHash: token.verifierHash,
    owner,
    now: claimedAt,
    until: Math.min(claimedAt + CLAIM_LEASE_MS, input.deadline ?? Number.POSITIVE_INFINITY),
  });
  if (!claimed) {
    await refundFailure();
    return invalid('claimed_by_another');
  }

  let outcome: Awaited<ReturnType<ConfirmResetDeps['tokens']['consumeAndChangePassword']>>;
  try {
    const passwordHash = await deps.hashPassword(input.newPassword);
    const changedAt = deps.clock.now();
    outcome = await deps.tokens.consumeAndChangePassword({
      token,
      userEmail: candidate.userEmail,
      claimOwner: owner,
      passwordHash,
      changedAt,
      ...(input.deadline === undefined ? {} : { deadline: input.deadline }),
      // The update pins the version the credential was issued for, so the new one is exactly +1.
      outboxItem: deps.config.passwordChangedEvents
        ? passwordChangedOutboxItem({
            userId: token.userId,
            credentialVersion: token.credentialVersion + 1,
            changedAt,
            method: proven.method,
            requestId: input.requestId,
          })
        : undefined,
    });
  } catch (error) {
    // Nothing committed (the write is never started without time to finish it): give the claim
    // back so the user's retry after the 503 is not refused.
    await deps.tokens.release(token.selector, owner, token.kind);
    throw error;
  }
  if (outcome === 'token_rejected') {
    await deps.tokens.release(token.selector, owner, token.kind);
    return invalid('already_used');
  }

  // The reset is committed: nothing after this point may turn it into an error answer.
  await refundFailure().catch(() => undefined);
  deps.audit({ event: 'reset_completed' }, context);
  await notifyPasswordChanged(candidate.userEmail, context, deps);
  return { status: 'completed' };
}

/** The notice is best-effort: its failure is logged and never undoes the reset. */
async function notifyPasswordChanged(
  to: string,
  context: AuditContext,
  deps: ConfirmResetDeps,
): Promise<void> {
  try {
    const outcome = await deps.sendEmail({
      to,
      template: 'password_changed',
      data: { changedAt: new Date(deps.clock.now()) },
    });
    deps.audit(
      {
        event: 'password_changed_notice',
        delivered: outcome.delivered,
        ...(outcome.delivered ? {} : { reason: outcome.reason }),
      },
      context,
    );
  } catch {
    deps.audit({ event: 'password_changed_notice', delivered: false, reason: 'error' }, context);
  }
}
