import type { Audit, AuditContext } from './audit';
import type { Clock } from './clock';
import type { Config } from './config';
import type { KillSwitch } from './email/kill-switch';
import type { SendEmail } from './email/send-email';
import type { SuppressionStore } from './email/suppression-store';
import { ipKey, networkKey } from './limits/network';
import type { RateLimiter } from './limits/rate-limiter';
import type { Pseudonymize } from './pseudonym';
import { issueToken, type RandomBytes } from './tokens/token';
import type { TokenStore } from './tokens/token-store';
import { normalizeEmail, type UserStore } from './users/user-store';

export interface RequestResetDeps {
  users: Pick<UserStore, 'findByEmail' | 'readBinding'>;
  tokens: Pick<TokenStore, 'saveActive'>;
  rateLimiter: Pick<RateLimiter, 'hit' | 'refund'>;
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
 * The account-dependent work must finish this long before the floor, so the answer still goes
 * out at the floor when DynamoDB or the queue is slow: past it the work is aborted (store_error).
 */
export const ACCOUNT_WORK_MARGIN_MS = 30;
/**
 * Below this much time the work cannot be done at all. A floor that leaves less (tests run with
 * 0 to 20 ms) protects no timing anyway, so the work then runs without an abort deadline.
 */
const MIN_ACCOUNT_WORK_MS = 100;

type SuppressReason =
  | 'unknown_account'
  | 'throttled'
  | 'kill_switch'
  | 'dry_run'
  | 'ssm_unavailable'
  | 'store_error'
  | 'provider_error'
  | 'suppressed_address';

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
  deps.audit({ event: 'reset_requested' }, context);

  const floor = deps.config.requestResponseFloorMs;
  const signal =
    floor >= MIN_ACCOUNT_WORK_MS + ACCOUNT_WORK_MARGIN_MS
      ? deps.clock.timeout(Math.max(1, floor - ACCOUNT_WORK_MARGIN_MS - (deps.clock.now() - startedAt)))
      : undefined;
  const emailed = await startResetForAccount(email, input.sourceIp, startedAt, context, deps, signal);

  const elapsed = deps.clock.now() - startedAt;
  if (elapsed < floor) await deps.clock.sleep(floor - elapsed);
  else if (floor > 0) deps.onFloorExceeded(elapsed);
  return { status: 'accepted', emailed };
}

/**
 * The account-dependent part. The lookup, the per-account counters, the suppression check and
 * the ONE kill-switch read run for every address, known or not, so the calls made are the same
 * on both branches. That one switch state decides both the token write and the send.
 */
async function startResetForAccount(
  email: string,
  sourceIp: string,
  now: number,
  context: AuditContext,
  deps: RequestResetDeps,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const accountKey = context.accountKey as string;
  const suppress = (reason: SuppressReason) => {
    deps.audit({ event: 'reset_email_suppressed', reason }, context);
    return false;
  };
  // An outage here fails every address alike (a 503), so it reveals nothing.
  const [user, accountAllowed, switchState, suppressed] = await Promise.all([
    deps.users.findByEmail(email),
    hitAccountLimits(accountKey, sourceIp, now, deps),
    deps.killSwitch.read(),
    deps.suppressions.isSuppressed(accountKey, now),
  ]);
  if (!user) return suppress('unknown_account');
  if (!accountAllowed) return suppress('throttled');
  if (suppressed) return suppress('suppressed_address');
  if (switchState === 'disabled') return suppress('kill_switch');
  if (switchState === 'unavailable') return suppress('ssm_unavailable');

  const token = issueToken(deps.random);
  const expiresAt = now + deps.config.tokenTtlMinutes * 60_000;
  const link = deps.config.resetLinkTemplate.replace('{token}', encodeURIComponent(token.value));
  const message = {
    to: user.email,
    template: 'password_reset' as const,
    data: { link, expiresAt: new Date(expiresAt), expiresInMinutes: deps.config.tokenTtlMinutes },
    secrets: [token.value, link],
    switchState,
    ...(signal ? { signal } : {}),
  };
  // Dry run changes nothing for users: no token is stored and no pointer moves, so a link
  // already delivered keeps working. The email is rendered with this never-stored token and
  // logged redacted by sendEmail.
  if (switchState === 'dry_run') {
    await deps.sendEmail(message);
    return suppress('dry_run');
  }

  try {
    // Consistent read: the index may lag an email change, and the token binds to what is current.
    const binding = await deps.users.readBinding(user.userId, signal);
    if (!binding || normalizeEmail(binding.email) !== email) return suppress('unknown_account');
    await deps.tokens.saveActive(
      {
        selector: token.selector,
        userId: user.userId,
        verifierHash: token.verifierHash,
        expiresAt,
        emailKey: accountKey,
        credentialVersion: binding.credentialVersion,
      },
      now,
      signal,
    );
  } catch {
    // Past the lookup, a failure (or the deadline) must not turn into an answer only known
    // accounts get: the email is dropped and the answer still goes out at the floor.
    return suppress('store_error');
  }

  const outcome = await deps.sendEmail(message);
  if (outcome.delivered) {
    deps.audit({ event: 'reset_email_sent' }, context);
    return true;
  }
  return suppress(outcome.reason);
}

/**
 * The silent per-account limits: one budget per account AND client network, so an attacker on
 * one network cannot use up the victim's, and a looser account-wide cap so no mailbox is flooded
 * from many networks. A network hit that the cap then denies is given back.
 */
async function hitAccountLimits(
  accountKey: string,
  sourceIp: string,
  now: number,
  deps: RequestResetDeps,
): Promise<boolean> {
  const { requestPerAccount, requestPerAccountTotal } = deps.config.rateLimits;
  const perNetworkKey = `${accountKey}.${deps.pseudonymize('ip', networkKey(sourceIp))}`;
  const perNetwork = await deps.rateLimiter.hit('request-account', perNetworkKey, requestPerAccount, now);
  if (!perNetwork.allowed) return false;
  const total = await deps.rateLimiter.hit('request-account-all', accountKey, requestPerAccountTotal, now);
  if (total.allowed) return true;
  await deps.rateLimiter.refund('request-account', perNetworkKey, requestPerAccount, now);
  return false;
}
