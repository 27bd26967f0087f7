import { randomUUID } from 'node:crypto';
import type { Audit, AuditContext } from './audit';
import type { Clock } from './clock';
import type { Config } from './config';
import type { SendEmail } from './email/send-email';
import { passwordChangedOutboxItem } from './events/password-changed';
import type { RateLimiter } from './limits/rate-limiter';
import type { CheckBreached } from './passwords/breach-check';
import type { HashPassword } from './passwords/password-hasher';
import { checkPassword, type PolicyViolation } from './passwords/password-policy';
import type { Pseudonymize } from './pseudonym';
import { parseToken, verifierMatches } from './tokens/token';
import type { TokenStore } from './tokens/token-store';
import { normalizeEmail } from './users/user-store';

export interface ConfirmResetDeps {
  tokens: Pick<TokenStore, 'findCandidate' | 'claim' | 'release' | 'consumeAndChangePassword'>;
  rateLimiter: Pick<RateLimiter, 'hit' | 'refund'>;
  hashPassword: HashPassword;
  /** The optional breached-password check (PASSWORD_BREACH_CHECK); it fails open. */
  checkBreached?: CheckBreached;
  sendEmail: SendEmail;
  audit: Audit;
  pseudonymize: Pseudonymize;
  clock: Clock;
  config: Pick<Config, 'rateLimits' | 'passwordPolicy' | 'passwordChangedEvents'>;
}

export interface ConfirmResetInput {
  token: string;
  newPassword: string;
  sourceIp: string;
  requestId: string;
  /** Epoch ms at which the early-timeout 503 goes out; nothing may commit after it. */
  deadline?: number;
}

/** A claim lapses by itself after this long (or at the deadline), so a dead confirm frees the token. */
export const CLAIM_LEASE_MS = 30_000;

export type ConfirmResetResult =
  | { status: 'completed' }
  | { status: 'invalid_token' }
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

/**
 * Sets a new password with a reset token. The token is checked before any bcrypt work, so
 * guessing tokens costs the attacker as much as it costs us. The final write re-checks every
 * condition atomically; the checks before it only fail fast.
 */
export async function confirmReset(
  input: ConfirmResetInput,
  deps: ConfirmResetDeps,
): Promise<ConfirmResetResult> {
  const now = deps.clock.now();
  const context: AuditContext = { requestId: input.requestId, sourceIp: input.sourceIp };
  const { confirmPerIp, confirmFailuresPerIp } = deps.config.rateLimits;
  const ipKey = deps.pseudonymize('ip', input.sourceIp);

  // Every attempt is charged to the failure budget up front and refunded if it was not a
  // bad token. Charging first is what keeps a concurrent burst from overshooting.
  const [ipDecision, failureDecision] = await Promise.all([
    deps.rateLimiter.hit('confirm-ip', ipKey, confirmPerIp, now),
    deps.rateLimiter.hit('confirm-fail-ip', ipKey, confirmFailuresPerIp, now),
  ]);
  const denied = [ipDecision, failureDecision].filter((decision) => !decision.allowed);
  if (denied.length > 0) {
    deps.audit({ event: 'reset_rejected', reason: 'rate_limited' }, context);
    return {
      status: 'rate_limited',
      retryAfterSeconds: Math.max(...denied.map((d) => (d.allowed ? 0 : d.retryAfterSeconds))),
    };
  }
  const refundFailure = () => deps.rateLimiter.refund('confirm-fail-ip', ipKey, confirmFailuresPerIp, now);
  const invalid = (detail: InvalidReason): ConfirmResetResult => {
    deps.audit({ event: 'reset_rejected', reason: 'invalid_or_expired_token', detail }, context);
    return { status: 'invalid_token' };
  };

  const parsed = parseToken(input.token);
  if (!parsed) return invalid('malformed');
  const candidate = await deps.tokens.findCandidate(parsed.selector);
  if (!candidate) return invalid('unknown');
  if (!verifierMatches(parsed.verifier, candidate.token.verifierHash)) return invalid('wrong_verifier');
  if (candidate.token.expiresAt <= now) return invalid('expired');
  if (!candidate.isActive) return invalid('superseded');
  if (candidate.userEmail === undefined) return invalid('no_user');
  const accountKey = deps.pseudonymize('account', normalizeEmail(candidate.userEmail));
  context.accountKey = accountKey;
  // The link dies with the credentials it was sent for: an email or password change made
  // elsewhere since it was issued. The transaction re-checks both atomically.
  if (accountKey !== candidate.token.emailKey) return invalid('credentials_changed');
  if (candidate.credentialVersion !== candidate.token.credentialVersion)
    return invalid('credentials_changed');

  const violations = checkPassword(input.newPassword, deps.config.passwordPolicy, {
    email: candidate.userEmail,
  });
  if (violations.length === 0 && (await deps.checkBreached?.(input.newPassword)))
    violations.push({ rule: 'breached', message: 'This password has appeared in a data breach.' });
  if (violations.length > 0) {
    await refundFailure();
    deps.audit(
      { event: 'reset_rejected', reason: 'weak_password', detail: violations.map((v) => v.rule).join(',') },
      context,
    );
    return { status: 'weak_password', violations };
  }

  // One hash per token: claim it before bcrypt, so concurrent confirms of one token cost one hash
  // and every loser is refused at once. A loser presented a valid token, so it is no guess: its
  // failure charge is given back.
  const owner = randomUUID();
  const claimedAt = deps.clock.now();
  const claimed = await deps.tokens.claim({
    selector: candidate.token.selector,
    verifierHash: candidate.token.verifierHash,
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
      token: candidate.token,
      userEmail: candidate.userEmail,
      claimOwner: owner,
      passwordHash,
      changedAt,
      ...(input.deadline === undefined ? {} : { deadline: input.deadline }),
      // The update pins the version the link was issued for, so the new one is exactly +1.
      outboxItem: deps.config.passwordChangedEvents
        ? passwordChangedOutboxItem({
            userId: candidate.token.userId,
            credentialVersion: candidate.token.credentialVersion + 1,
            changedAt,
            method: 'link',
            requestId: input.requestId,
          })
        : undefined,
    });
  } catch (error) {
    // Nothing committed (the write is never started without time to finish it): give the claim
    // back so the user's retry after the 503 is not refused.
    await deps.tokens.release(candidate.token.selector, owner);
    throw error;
  }
  if (outcome === 'token_rejected') {
    await deps.tokens.release(candidate.token.selector, owner);
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
