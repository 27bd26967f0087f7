import type { Audit, AuditContext } from './audit';
import type { Clock } from './clock';
import type { Config } from './config';
import type { KillSwitch } from './email/kill-switch';
import type { SendEmail } from './email/send-email';
import type { SuppressionStore } from './email/suppression-store';
import type { RateLimiter } from './limits/rate-limiter';
import type { Pseudonymize } from './pseudonym';
import { issueToken, type RandomBytes } from './tokens/token';
import type { TokenStore } from './tokens/token-store';
import { normalizeEmail, type UserStore } from './users/user-store';

export interface RequestResetDeps {
  users: Pick<UserStore, 'findByEmail'>;
  tokens: Pick<TokenStore, 'saveActive'>;
  rateLimiter: Pick<RateLimiter, 'hit'>;
  killSwitch: KillSwitch;
  sendEmail: SendEmail;
  /** Addresses that bounced or complained (issue 9): nothing is sent to them. */
  suppressions: Pick<SuppressionStore, 'isSuppressed'>;
  audit: Audit;
  pseudonymize: Pseudonymize;
  clock: Clock;
  random: RandomBytes;
  /** Reports a response that took longer than the floor, which could leak timing. */
  onFloorExceeded: (elapsedMs: number) => void;
  config: Pick<Config, 'rateLimits' | 'tokenTtlMinutes' | 'resetLinkTemplate' | 'requestResponseFloorMs'>;
}

export interface RequestResetInput {
  email: string;
  sourceIp: string;
  requestId: string;
}

/** What happened, for tests and logs. The HTTP answer is the same 200 for every `accepted` outcome. */
export type RequestResetResult =
  | { status: 'rate_limited'; retryAfterSeconds: number }
  | { status: 'accepted'; emailed: boolean };

/**
 * Starts a reset. Only the per-IP limit can change the answer; everything that depends
 * on the account happens behind a fixed response-time floor, so status, body, headers
 * and timing are the same whether or not the account exists.
 */
export async function requestReset(
  input: RequestResetInput,
  deps: RequestResetDeps,
): Promise<RequestResetResult> {
  const startedAt = deps.clock.now();
  const context: AuditContext = { requestId: input.requestId, sourceIp: input.sourceIp };

  const ipKey = deps.pseudonymize('ip', input.sourceIp);
  const ipDecision = await deps.rateLimiter.hit(
    'request-ip',
    ipKey,
    deps.config.rateLimits.requestPerIp,
    startedAt,
  );
  if (!ipDecision.allowed) {
    deps.audit({ event: 'reset_rejected', reason: 'rate_limited' }, context);
    return { status: 'rate_limited', retryAfterSeconds: ipDecision.retryAfterSeconds };
  }

  const email = normalizeEmail(input.email);
  context.accountKey = deps.pseudonymize('account', email);
  deps.audit({ event: 'reset_requested' }, context);

  const emailed = await startResetForAccount(email, startedAt, context, deps);

  const floor = deps.config.requestResponseFloorMs;
  const elapsed = deps.clock.now() - startedAt;
  if (elapsed < floor) await deps.clock.sleep(floor - elapsed);
  else if (floor > 0) deps.onFloorExceeded(elapsed);
  return { status: 'accepted', emailed };
}

/**
 * The account-dependent part. The lookup, the per-account counter and the kill-switch read
 * run for every address, known or not, so the calls made are the same on both branches.
 */
async function startResetForAccount(
  email: string,
  now: number,
  context: AuditContext,
  deps: RequestResetDeps,
): Promise<boolean> {
  const accountKey = context.accountKey as string;
  const [user, accountDecision, switchState, suppressed] = await Promise.all([
    deps.users.findByEmail(email),
    deps.rateLimiter.hit('request-account', accountKey, deps.config.rateLimits.requestPerAccount, now),
    deps.killSwitch.read(),
    deps.suppressions.isSuppressed(accountKey, now),
  ]);
  const suppress = (
    reason:
      | 'unknown_account'
      | 'throttled'
      | 'kill_switch'
      | 'ssm_unavailable'
      | 'store_error'
      | 'suppressed_address',
  ) => {
    deps.audit({ event: 'reset_email_suppressed', reason }, context);
    return false;
  };
  if (!user) return suppress('unknown_account');
  if (!accountDecision.allowed) return suppress('throttled');
  if (suppressed) return suppress('suppressed_address');
  // No token is written while mail is off: it would only invalidate a link already sent.
  if (switchState === 'disabled') return suppress('kill_switch');
  if (switchState === 'unavailable') return suppress('ssm_unavailable');

  const token = issueToken(deps.random);
  const expiresAt = now + deps.config.tokenTtlMinutes * 60_000;
  try {
    await deps.tokens.saveActive(
      { selector: token.selector, userId: user.userId, verifierHash: token.verifierHash, expiresAt },
      now,
    );
  } catch {
    // Past the lookup, a failure must not turn into a 503 that only known accounts get.
    return suppress('store_error');
  }

  const link = deps.config.resetLinkTemplate.replace('{token}', encodeURIComponent(token.value));
  const outcome = await deps.sendEmail({
    to: user.email,
    template: 'password_reset',
    data: { link, expiresAt: new Date(expiresAt), expiresInMinutes: deps.config.tokenTtlMinutes },
    secrets: [token.value, link],
  });
  if (outcome.delivered) {
    deps.audit({ event: 'reset_email_sent' }, context);
    return true;
  }
  deps.audit({ event: 'reset_email_suppressed', reason: outcome.reason }, context);
  return false;
}
