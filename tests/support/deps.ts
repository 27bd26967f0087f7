import { randomUUID } from 'node:crypto';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import type { Audit, AuditContext, AuditEvent } from '../../lib/audit';
import { createCodeHasher } from '../../lib/codes/code';
import { FlowStore } from '../../lib/codes/flow-store';
import { type Config, loadConfig } from '../../lib/config';
import type { ConfirmResetDeps } from '../../lib/confirm-reset';
import { sdkUpdateItem } from '../../lib/dynamo';
import type { KillSwitch, KillSwitchState } from '../../lib/email/kill-switch';
import { MockEmailProvider } from '../../lib/email/mock-provider';
import { createSendEmail, type EmailProvider } from '../../lib/email/send-email';
import { SuppressionStore } from '../../lib/email/suppression-store';
import type { ResetJob, ResetJobQueue } from '../../lib/jobs/reset-job';
import { RateLimiter } from '../../lib/limits/rate-limiter';
import { createPasswordHasher } from '../../lib/passwords/password-hasher';
import { type ProcessResetJobDeps, processResetJob } from '../../lib/process-reset-job';
import { createPseudonymizer } from '../../lib/pseudonym';
import { type RequestResetDeps, type RequestResetInput, requestReset } from '../../lib/request-reset';
import { TokenStore } from '../../lib/tokens/token-store';
import { UserStore } from '../../lib/users/user-store';
import { createTables } from '../../local/tables';
import { LocalAccounts } from '../../local/users';
import { manualClock, sequentialRandom } from './clock';

/** Generous limits for tests that are not about rate limiting. */
export const NO_LIMITS = {
  RATE_LIMIT_REQUEST_IP: '100000/1h',
  RATE_LIMIT_REQUEST_ACCOUNT: '100000/1h',
  RATE_LIMIT_REQUEST_ACCOUNT_TOTAL: '100000/1h',
  RATE_LIMIT_CONFIRM_IP: '100000/1h',
  RATE_LIMIT_CONFIRM_FAILURES_IP: '100000/1h',
};

export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const suffix = randomUUID().slice(0, 8);
  return {
    TOKEN_TABLE_NAME: `tokens-${suffix}`,
    USERS_TABLE_NAME: `users-${suffix}`,
    USERS_EMAIL_INDEX_NAME: 'email-index',
    KILL_SWITCH_PARAMETER_NAME: `/password-reset/test-${suffix}/kill-switch`,
    RESET_LINK_TEMPLATE: 'https://market.example.com/reset-password#token={token}',
    BCRYPT_COST: '4',
    // Events are on in npm start; suites about them turn them on (tests/integration/password-events*).
    PASSWORD_CHANGED_EVENTS: 'false',
    ...NO_LIMITS,
    ...overrides,
  };
}

export interface AuditEntry {
  entry: AuditEvent;
  context: AuditContext;
}

/**
 * Real use-case dependencies on DynamoDB Local (fresh tables per call), with a manual clock,
 * deterministic randomness, a switchable kill-switch and a captured audit trail.
 */
export async function createTestWorld(overrides: Record<string, string> = {}) {
  const env = testEnv(overrides);
  const config: Config = loadConfig(env);
  const raw = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), maxAttempts: 2 });
  const client = DynamoDBDocumentClient.from(raw);
  await createTables(raw, {
    tokenTable: config.tokenTableName,
    usersTable: config.usersTableName,
    emailIndex: config.usersEmailIndexName,
    tokenStream: config.passwordChangedEvents,
  });
  const clock = manualClock();
  const outbox = new MockEmailProvider();
  let provider: EmailProvider = outbox;
  let switchState: KillSwitchState = 'deliver';
  const killSwitch: KillSwitch = { read: async () => switchState };
  const audits: AuditEntry[] = [];
  const audit: Audit = (entry, context) => audits.push({ entry, context: { ...context } });
  const emailLog: Array<{ event: string; fields: Record<string, unknown> }> = [];
  const sendEmail = createSendEmail({
    killSwitch,
    provider: { deliver: (message) => provider.deliver(message) },
    log: (event, fields) => emailLog.push({ event, fields }),
  });
  const tokens = new TokenStore(client, config.tokenTableName, config.usersTableName);
  const rateLimiter = new RateLimiter(sdkUpdateItem(raw), config.tokenTableName);
  const pseudonymize = createPseudonymizer(config.accountKeySalt);
  const floorExceeded: number[] = [];
  const suppressions = new SuppressionStore(client, config.tokenTableName);
  const flows = new FlowStore(client, config.tokenTableName);
  const hashCode = createCodeHasher(config.accountKeySalt);

  const random = sequentialRandom();
  const jobs = new MemoryJobQueue();
  const requestDeps: RequestResetDeps = {
    rateLimiter,
    jobs,
    audit,
    pseudonymize,
    clock,
    random,
    onFloorExceeded: (ms) => floorExceeded.push(ms),
    config,
  };
  const workerDeps: ProcessResetJobDeps = {
    users: new UserStore(client, config.usersTableName, config.usersEmailIndexName),
    tokens,
    flows,
    hashCode,
    rateLimiter,
    killSwitch,
    sendEmail,
    suppressions,
    audit,
    pseudonymize,
    clock,
    random,
    config,
  };
  /**
   * A request, then its job worked at once by the worker's use case, as the deployed worker would
   * soon after: `emailed` says whether the job mailed a credential (the client never learns it).
   */
  const requestAndWork = async (input: RequestResetInput, worker: Partial<ProcessResetJobDeps> = {}) => {
    const result = await requestReset(input, requestDeps);
    if (result.status !== 'accepted') return result;
    const { jobId: _jobId, ...answer } = result;
    const worked = await processResetJob(jobs.take(result.jobId), { ...workerDeps, ...worker });
    return { ...answer, emailed: worked.status === 'emailed' };
  };

  const confirmDeps: ConfirmResetDeps = {
    tokens,
    flows,
    hashCode,
    rateLimiter,
    hashPassword: createPasswordHasher(config.bcryptCost),
    sendEmail,
    audit,
    pseudonymize,
    clock,
    config,
  };

  return {
    config,
    client,
    /** The low-level client, for what takes one (the idempotency layer). */
    rawClient: raw,
    clock,
    outbox,
    audits,
    emailLog,
    floorExceeded,
    suppressions,
    flows,
    requestDeps,
    workerDeps,
    confirmDeps,
    jobs,
    requestReset: requestAndWork,
    accounts: new LocalAccounts(client, config),
    setKillSwitch: (state: KillSwitchState) => {
      switchState = state;
    },
    setEmailProvider: (next: EmailProvider) => {
      provider = next;
    },
    /** Every item of both tables, raw, for "no plaintext secret stored" checks. */
    scanAll: async () => {
      const [tokensScan, usersScan] = await Promise.all([
        raw.send(new ScanCommand({ TableName: config.tokenTableName })),
        raw.send(new ScanCommand({ TableName: config.usersTableName })),
      ]);
      return [...(tokensScan.Items ?? []), ...(usersScan.Items ?? [])];
    },
    /** The token of the newest reset email in the outbox. */
    lastToken: () => {
      // The newest reset email: a password_changed notice may have arrived after it.
      const link = outbox.outbox().findLast((message) => message.template === 'password_reset')?.link;
      if (!link) throw new Error('no reset email in the outbox');
      return decodeURIComponent(new URL(link).hash.replace('#token=', ''));
    },
    destroy: () => raw.destroy(),
  };
}

export type TestWorld = Awaited<ReturnType<typeof createTestWorld>>;

/** The job queue, in memory: the request use case's hand-off, taken by tests to work the job. */
export class MemoryJobQueue implements ResetJobQueue {
  readonly queued: ResetJob[] = [];
  /** Set to make the next hand-offs fail, as an unreachable queue would. */
  failWith: Error | undefined;

  async enqueue(job: ResetJob): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.queued.push(structuredClone(job));
  }

  take(jobId: string): ResetJob {
    const index = this.queued.findIndex((job) => job.id === jobId);
    if (index === -1) throw new Error(`no queued job ${jobId}`);
    return this.queued.splice(index, 1)[0] as ResetJob;
  }
}
