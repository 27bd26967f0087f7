import type { Audit, AuditContext } from './audit';
import type { Clock } from './clock';
import { type CodeHasher, flowKey, generateCode, newFlowId, phantomCodeHash } from './codes/code';
import type { FlowStore } from './codes/flow-store';
import type { Config, ResetMethod } from './config';
import type { KillSwitch, KillSwitchState } from './email/kill-switch';
import type { SendEmail } from './email/send-email';
import type { SuppressionStore } from './email/suppression-store';
import { ipKey, networkKey } from './limits/network';
import type { RateLimiter } from './limits/rate-limiter';
import type { Pseudonymize } from './pseudonym';
import { issueToken, type RandomBytes } from './tokens/token';
import type { StoredToken, TokenStore } from './tokens/token-store';
import { normalizeEmail, type UserStore } from './users/user-store';

export interface RequestResetDeps {
  users: Pick<UserStore, 'findByEmail' | 'readBinding'>;
  tokens: Pick<TokenStore, 'saveActive'>;
  /** Code mode: phantom flows (a real flow is saved through `tokens`, as the active credential). */
  flows: Pick<FlowStore, 'savePhantom'>;
  /** HMAC of a code bound to its flow (lib/codes/code.ts). */
  hashCode: CodeHasher;
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
  config: Pick<
    Config,
    | 'rateLimits'
    | 'tokenTtlMinutes'
    | 'resetLinkTemplate'
    | 'requestResponseFloorMs'
    | 'resetMethods'
    | 'codes'
  >;
}

export interface RequestResetInput {
  email: string;
  sourceIp: string;
  requestId: string;
  /** Absent: the first of RESET_METHODS. */
  method?: ResetMethod | undefined;
}

/**
 * What happened, for tests and logs. The HTTP answer is the same 200 for every `accepted`
 * outcome; a code request's answer differs only by its flowId, which every request gets.
 */
export type RequestResetResult =
  | { status: 'method_not_enabled' }
  | { status: 'rate_limited'; retryAfterSeconds: number }
  | { status: 'accepted'; emailed: boolean; flowId?: string };

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
  deps.audit({ event: 'reset_requested' }, context);

  const floor = deps.config.requestResponseFloorMs;
  const signal =
    floor >= MIN_ACCOUNT_WORK_MS + ACCOUNT_WORK_MARGIN_MS
      ? deps.clock.timeout(Math.max(1, floor - ACCOUNT_WORK_MARGIN_MS - (deps.clock.now() - startedAt)))
      : undefined;
  // Every code request gets a flowId, known account or not: only its value differs.
  const flowId = method === 'code' ? newFlowId(deps.random) : undefined;
  const gate = await gateAccount(email, input.sourceIp, startedAt, context, deps);
  const emailed =
    flowId === undefined
      ? await startResetForAccount(email, gate, startedAt, context, deps, signal)
      : await startCodeFlow(flowId, email, gate, startedAt, context, deps, signal);

  const elapsed = deps.clock.now() - startedAt;
  if (elapsed < floor) await deps.clock.sleep(floor - elapsed);
  else if (floor > 0) deps.onFloorExceeded(elapsed);
  return { status: 'accepted', emailed, ...(flowId === undefined ? {} : { flowId }) };
}

/** An account that may be mailed now, with the one kill-switch state read for this request. */
interface OpenGate {
  user: { userId: string; email: string };
  switchState: Extract<KillSwitchState, 'deliver' | 'dry_run'>;
}

/**
 * The lookup, the per-account counters, the suppression check and the ONE kill-switch read run
 * for every address, known or not, so the calls made are the same on both branches. That one
 * switch state decides both the credential write and the send.
 */
async function gateAccount(
  email: string,
  sourceIp: string,
  now: number,
  context: AuditContext,
  deps: RequestResetDeps,
): Promise<OpenGate | SuppressReason> {
  const accountKey = context.accountKey as string;
  // An outage here fails every address alike (a 503), so it reveals nothing.
  const [user, accountAllowed, switchState, suppressed] = await Promise.all([
    deps.users.findByEmail(email),
    hitAccountLimits(accountKey, sourceIp, now, deps),
    deps.killSwitch.read(),
    deps.suppressions.isSuppressed(accountKey, now),
  ]);
  if (!user) return 'unknown_account';
  if (!accountAllowed) return 'throttled';
  if (suppressed) return 'suppressed_address';
  if (switchState === 'disabled') return 'kill_switch';
  if (switchState === 'unavailable') return 'ssm_unavailable';
  return { user, switchState };
}

/** The link path: a token, the active pointer moved to it, and the link emailed. */
async function startResetForAccount(
  email: string,
  gate: OpenGate | SuppressReason,
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
  if (typeof gate === 'string') return suppress(gate);
  const { user, switchState } = gate;

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

  const saved = await saveBoundCredential(
    email,
    {
      selector: token.selector,
      userId: user.userId,
      verifierHash: token.verifierHash,
      expiresAt,
      emailKey: accountKey,
    },
    now,
    deps,
    signal,
  );
  if (saved !== 'saved') return suppress(saved);

  const outcome = await deps.sendEmail(message);
  if (outcome.delivered) {
    deps.audit({ event: 'reset_email_sent' }, context);
    return true;
  }
  return suppress(outcome.reason);
}

/**
 * The code path. One flow item per request, known account or not: an address that gets no code
 * (unknown, throttled, suppressed, the kill-switch, a dry run) gets a phantom flow whose stored
 * HMAC no code matches, so confirm does the same work on it, in the same time, with the same
 * answer as on a real flow with a wrong code. A real flow becomes the account's one active
 * credential, superseding any link or code sent before.
 */
async function startCodeFlow(
  flowId: string,
  email: string,
  gate: OpenGate | SuppressReason,
  now: number,
  context: AuditContext,
  deps: RequestResetDeps,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const emailKey = context.accountKey as string;
  const key = flowKey(flowId);
  const { ttlMinutes, length } = deps.config.codes;
  const expiresAt = now + ttlMinutes * 60_000;
  const phantom = async (reason: SuppressReason) => {
    try {
      await deps.flows.savePhantom(
        { flowKey: key, codeHash: phantomCodeHash(deps.random), emailKey, expiresAt },
        now,
        signal,
      );
    } catch {
      // The flowId then names no item: confirm answers the same 400 for it.
    }
    deps.audit({ event: 'reset_email_suppressed', reason }, context);
    return false;
  };
  if (typeof gate === 'string') return phantom(gate);
  const { user, switchState } = gate;

  const code = generateCode(deps.random, length);
  const message = {
    to: user.email,
    template: 'password_reset_code' as const,
    data: { code, expiresAt: new Date(expiresAt), expiresInMinutes: ttlMinutes },
    secrets: [code],
    switchState,
    ...(signal ? { signal } : {}),
  };
  // Dry run, as for links: the email is rendered and logged redacted, and no credential moves.
  if (switchState === 'dry_run') {
    await deps.sendEmail(message);
    return phantom('dry_run');
  }

  const saved = await saveBoundCredential(
    email,
    {
      kind: 'flow',
      selector: key,
      userId: user.userId,
      verifierHash: deps.hashCode(flowId, code),
      expiresAt,
      emailKey,
    },
    now,
    deps,
    signal,
  );
  // Still one flow item per request: confirm then takes the same steps as for a wrong code.
  // The phantom write never overwrites a flow that did commit (attribute_not_exists).
  if (saved !== 'saved') return phantom(saved);
  deps.audit({ event: 'code_issued' }, context);

  const outcome = await deps.sendEmail(message);
  if (outcome.delivered) {
    deps.audit({ event: 'reset_email_sent' }, context);
    return true;
  }
  deps.audit({ event: 'reset_email_suppressed', reason: outcome.reason }, context);
  return false;
}

/**
 * Makes `credential` the account's one active link or code, bound to the account's current email
 * and credentialVersion (a consistent read: the index may lag an email change). Past the lookup,
 * a failure or the deadline must not turn into an answer only known accounts get: it is
 * store_error, and the answer still goes out at the floor.
 */
async function saveBoundCredential(
  email: string,
  credential: Omit<StoredToken, 'credentialVersion'>,
  now: number,
  deps: RequestResetDeps,
  signal: AbortSignal | undefined,
): Promise<'saved' | 'unknown_account' | 'store_error'> {
  try {
    const binding = await deps.users.readBinding(credential.userId, signal);
    if (!binding || normalizeEmail(binding.email) !== email) return 'unknown_account';
    await deps.tokens.saveActive(
      { ...credential, credentialVersion: binding.credentialVersion },
      now,
      signal,
    );
    return 'saved';
  } catch {
    return 'store_error';
  }
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
