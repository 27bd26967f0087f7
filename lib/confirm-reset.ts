import type { Audit, AuditContext } from './audit';
import type { Clock } from './clock';
import type { Config } from './config';
import type { SendEmail } from './email/send-email';
import type { RateLimiter } from './limits/rate-limiter';
import type { CheckBreached } from './passwords/breach-check';
import type { HashPassword } from './passwords/password-hasher';
import { checkPassword, type PolicyViolation } from './passwords/password-policy';
import type { Pseudonymize } from './pseudonym';
import { parseToken, verifierMatches } from './tokens/token';
import type { TokenStore } from './tokens/token-store';

export interface ConfirmResetDeps {
  tokens: Pick<TokenStore, 'findCandidate' | 'consumeAndChangePassword'>;
  rateLimiter: Pick<RateLimiter, 'hit' | 'refund'>;
  hashPassword: HashPassword;
  /** The optional breached-password check (PASSWORD_BREACH_CHECK); it fails open. */
  checkBreached?: CheckBreached;
  sendEmail: SendEmail;
  audit: Audit;
  pseudonymize: Pseudonymize;
  clock: Clock;
  config: Pick<Config, 'rateLimits' | 'passwordPolicy'>;
}

export interface ConfirmResetInput {
  token: string;
  newPassword: string;
  sourceIp: string;
  requestId: string;
}

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
  context.accountKey = deps.pseudonymize('account', candidate.userEmail);

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

  const passwordHash = await deps.hashPassword(input.newPassword);
  const outcome = await deps.tokens.consumeAndChangePassword({
    token: candidate.token,
    passwordHash,
    changedAt: deps.clock.now(),
  });
  if (outcome === 'token_rejected') return invalid('already_used');

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
