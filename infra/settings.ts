import { Token } from 'aws-cdk-lib';
import * as z from 'zod';
import { type SettingIssue, validateSettings } from '../lib/config';
import { SECRET_SETTINGS } from '../lib/secrets';

/**
 * Deployment settings from CDK context (`-c key=value` or cdk.json). Parsed with zod so a typo
 * fails the synth with the setting's name instead of deploying something unexpected.
 */
const list = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  )
  .or(z.array(z.string()));
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')]);
/** A runtime setting: checked by the functions' own schema (lib/config.ts), not here. */
const passThrough = z.union([z.string(), z.number(), z.boolean()]).transform(String).optional();

const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key\/[0-9a-f-]{36}$/;
const US_EAST_1_CERTIFICATE_ARN = /^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate\/[0-9a-f-]{36}$/;
/** A browser origin: scheme, host and optional port, nothing else (and never `*`). */
const ORIGIN = /^https:\/\/[a-z0-9.-]+(:\d{1,5})?$|^http:\/\/(localhost|127\.0\.0\.1)(:\d{1,5})?$/;

/**
 * Context keys that set a function setting, and the environment variable each one sets.
 * Every value is checked with the functions' own zod schema at synth. To add a setting:
 * one line here, one in lib/config.ts.
 */
export const RUNTIME_CONTEXT_KEYS = {
  resetLinkTemplate: 'RESET_LINK_TEMPLATE',
  tokenTtlMinutes: 'TOKEN_TTL_MINUTES',
  bcryptCost: 'BCRYPT_COST',
  requestResponseFloorMs: 'REQUEST_RESPONSE_FLOOR_MS',
  killSwitchCacheSeconds: 'KILL_SWITCH_CACHE_SECONDS',
  passwordMinLength: 'PASSWORD_MIN_LENGTH',
  passwordMaxLength: 'PASSWORD_MAX_LENGTH',
  passwordCompositionRules: 'PASSWORD_COMPOSITION_RULES',
  rateLimitRequestIp: 'RATE_LIMIT_REQUEST_IP',
  rateLimitRequestAccount: 'RATE_LIMIT_REQUEST_ACCOUNT',
  rateLimitRequestAccountTotal: 'RATE_LIMIT_REQUEST_ACCOUNT_TOTAL',
  rateLimitConfirmIp: 'RATE_LIMIT_CONFIRM_IP',
  rateLimitConfirmFailuresIp: 'RATE_LIMIT_CONFIRM_FAILURES_IP',
  // Code mode.
  resetMethods: 'RESET_METHODS',
  resetCodeLength: 'RESET_CODE_LENGTH',
  resetCodeTtlMinutes: 'RESET_CODE_TTL_MINUTES',
  resetCodeMaxAttempts: 'RESET_CODE_MAX_ATTEMPTS',
  rateLimitCodeFailuresAccount: 'RATE_LIMIT_CODE_FAILURES_ACCOUNT',
} as const satisfies Record<string, string>;

const runtimeKeys = Object.fromEntries(
  Object.keys(RUNTIME_CONTEXT_KEYS).map((key) => [key, passThrough]),
) as Record<keyof typeof RUNTIME_CONTEXT_KEYS, typeof passThrough>;

const schema = z.object({
  ...runtimeKeys,
  stage: z.enum(['dev', 'prod']).default('dev'),
  account: z
    .string()
    .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
    .optional(),
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be a region such as eu-west-1')
    .optional(),
  throttleRateLimit: int(1, 10_000).default(50),
  throttleBurstLimit: int(1, 5_000).default(100),
  corsOrigins: list
    .pipe(z.array(z.string().regex(ORIGIN, 'must be an https origin such as https://market.example.com')))
    .default([]),
  alarmTopicArn: z.string().regex(SNS_TOPIC_ARN, 'must be an SNS topic ARN').optional(),
  existingUsersTableName: z.string().min(3).optional(),
  existingUsersEmailIndexName: z.string().min(3).optional(),
  existingUsersTableKeyArn: z.string().regex(KMS_KEY_ARN, 'must be a KMS key ARN').optional(),
  tracing: bool.optional(),
  // Runtime settings the stack also uses (bcrypt budget, alarms); the functions re-check them.
  bcryptCost: int(10, 15).default(12),
  tokenTtlMinutes: int(5, 60).default(15),
  requestResponseFloorMs: int(50, 5000).default(250),
  requestMemoryMb: int(128, 3008).default(256),
  confirmMemoryMb: int(512, 10_240).default(1024),
  // PasswordChanged events (infra/password-events.ts): on unless turned off; an existing bus by name or ARN.
  passwordChangedEvents: bool.default(true),
  eventBusName: z.string().min(1).max(1600).optional(),
  requestTimeoutSeconds: int(3, 30).default(10),
  confirmTimeoutSeconds: int(3, 30).default(10),
  requestReservedConcurrency: int(1, 1000).optional(),
  confirmReservedConcurrency: int(1, 1000).optional(),
  apiLatencyP99AlarmMs: int(100, 30_000).default(2500),
  invalidTokenAlarmThreshold: int(1, 100_000).default(50),
  edgeProtection: bool.default(false),
  domainName: z
    .string()
    .regex(/^([a-z0-9-]+\.)+[a-z]{2,}$/, 'must be a DNS name such as reset.market.example.com')
    .optional(),
  certificateArn: z
    .string()
    .regex(
      US_EAST_1_CERTIFICATE_ARN,
      'must be an ACM certificate ARN in us-east-1 (CloudFront needs it there)',
    )
    .optional(),
  edgeRateLimit: int(10, 2_000_000_000).default(300),
  // Email delivery (checked together in infra/email-delivery.ts).
  emailProvider: z.enum(['mock', 'ses', 'smtp']).default('mock'),
  emailFrom: z.string().optional(),
  sesIdentity: z.string().min(3).optional(),
  importSesIdentity: bool.default(false),
  smtpSecretArn: z.string().startsWith('arn:').optional(),
  allowMockEmailInProd: bool.default(false),
  emailMaxAttempts: int(1, 20).default(8),
  emailDlqRetentionHours: int(1, 48).default(6),
  emailSenderMaxConcurrency: int(2, 1000).default(5),
});

type Parsed = z.infer<typeof schema>;
export type Settings = Omit<
  Parsed,
  'tracing' | 'requestReservedConcurrency' | 'confirmReservedConcurrency'
> & {
  resetLinkTemplate: string;
  tracing: boolean;
  requestReservedConcurrency: number | undefined;
  confirmReservedConcurrency: number | undefined;
};

const EXAMPLE_LINK = 'https://market.example.com/reset-password#token={token}';
/** Prod reserves this much per function unless told otherwise; dev reserves none (small quotas). */
const PROD_RESERVED_CONCURRENCY = 50;

export class SettingsError extends Error {
  override name = 'SettingsError';
}
const fail = (message: string): never => {
  throw new SettingsError(`Invalid CDK context: ${message}`);
};

export function readSettings(context: Record<string, unknown>): Settings {
  const parsed = schema.safeParse(
    Object.fromEntries(Object.entries(context).filter(([, v]) => v !== undefined && v !== '')),
  );
  if (!parsed.success) {
    fail(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const settings = parsed.data as Parsed;
  const prod = settings.stage === 'prod';
  if (prod && !settings.resetLinkTemplate) {
    fail("resetLinkTemplate is required for stage=prod (your app's reset page, with {token})");
  }
  if (prod && !settings.alarmTopicArn) {
    fail(
      'alarmTopicArn is required for stage=prod (an SNS topic ARN, e.g. arn:aws:sns:REGION:ACCOUNT:oncall)',
    );
  }
  if ((prod || settings.edgeProtection) && (!settings.account || !settings.region)) {
    fail(
      `account and region are required for ${prod ? 'stage=prod' : 'edgeProtection'} (-c account=123456789012 -c region=eu-west-1)`,
    );
  }
  if (settings.existingUsersEmailIndexName && !settings.existingUsersTableName) {
    fail('existingUsersEmailIndexName needs existingUsersTableName');
  }
  if (settings.eventBusName && !settings.passwordChangedEvents) {
    fail('eventBusName needs passwordChangedEvents=true');
  }
  if (settings.existingUsersTableKeyArn && !settings.existingUsersTableName) {
    fail('existingUsersTableKeyArn needs existingUsersTableName');
  }
  if (settings.edgeProtection && (!settings.domainName || !settings.certificateArn)) {
    fail('edgeProtection needs domainName and certificateArn (an ACM certificate in us-east-1)');
  }
  const result: Settings = {
    ...settings,
    resetLinkTemplate: settings.resetLinkTemplate ?? EXAMPLE_LINK,
    tracing: settings.tracing ?? prod,
    requestReservedConcurrency:
      settings.requestReservedConcurrency ?? (prod ? PROD_RESERVED_CONCURRENCY : undefined),
    confirmReservedConcurrency:
      settings.confirmReservedConcurrency ?? (prod ? PROD_RESERVED_CONCURRENCY : undefined),
  };
  checkBcryptBudget(result);
  return result;
}

/** The environment variables the runtime context keys set (only those given; the rest keep the functions' defaults). */
export function runtimeEnvironment(settings: Settings): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, name] of Object.entries(RUNTIME_CONTEXT_KEYS)) {
    const value = settings[key as keyof Settings];
    if (value !== undefined) env[name] = String(value);
  }
  return env;
}

/** bcrypt at cost 12 takes about 340 ms of one full vCPU (measured here: see README Performance). */
const BCRYPT_COST_12_MS = 340;
/** Lambda gives one full vCPU at 1,769 MB, and a proportional share below. */
const FULL_VCPU_MB = 1769;
/** What confirm needs besides one hash: DynamoDB calls, the middy early-timeout margin (1 s). */
const CONFIRM_OVERHEAD_MS = 1500;

/** Estimated bcrypt time for one hash at this cost and memory size. */
export function bcryptEstimateMs(cost: number, memoryMb: number): number {
  return BCRYPT_COST_12_MS * 2 ** (cost - 12) * Math.max(1, FULL_VCPU_MB / memoryMb);
}

/** Confirm must fit two hashes' worth (a slow neighbour, a cold CPU) and its overhead in its timeout. */
function checkBcryptBudget(settings: Settings): void {
  const hashMs = bcryptEstimateMs(settings.bcryptCost, settings.confirmMemoryMb);
  const neededMs = 2 * hashMs + CONFIRM_OVERHEAD_MS;
  if (neededMs > settings.confirmTimeoutSeconds * 1000) {
    fail(
      `bcryptCost ${settings.bcryptCost} needs about ${Math.round(hashMs)} ms per hash at confirmMemoryMb ${settings.confirmMemoryMb}; ` +
        `confirmTimeoutSeconds ${settings.confirmTimeoutSeconds} leaves too little margin (needs ${Math.ceil(neededMs / 1000)} s). ` +
        'Raise confirmMemoryMb or confirmTimeoutSeconds.',
    );
  }
}

/** Which context key sets each environment variable, for error messages. */
const CONTEXT_KEY_OF: Record<string, string> = Object.fromEntries(
  Object.entries(RUNTIME_CONTEXT_KEYS).map(([key, name]) => [name, key]),
);

/** A stand-in for values known only at deploy time (table names, ARNs), so the rest can be checked. */
function deployTimeStandIn(name: string): string {
  if (name.endsWith('_ARN')) return 'arn:aws:service:us-east-1:123456789012:resolved-at-deploy';
  if (name.endsWith('_URL')) return 'https://resolved-at-deploy.example.com/';
  if (name.endsWith('_PARAMETER_NAME')) return '/resolved/at/deploy';
  return 'resolved-at-deploy';
}

/**
 * Checks a function's environment with the functions' own schema (lib/config.ts) and fails
 * the synth naming the context key. Values CloudFormation fills in at deploy time are replaced
 * by stand-ins; secret-backed settings (read at cold start) get a stand-in value too.
 */
export function checkFunctionEnvironment(functionId: string, environment: Record<string, string>): void {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(environment)) {
    env[name] = Token.isUnresolved(value) ? deployTimeStandIn(name) : value;
  }
  for (const [arnName, settingName] of Object.entries(SECRET_SETTINGS)) {
    if (env[arnName]) env[settingName] = 'resolved-from-secrets-manager-at-cold-start';
  }
  const issues = validateSettings(env).filter(
    (issue) => !Token.isUnresolved(environment[issue.setting] ?? ''),
  );
  if (issues.length > 0) fail(issues.map((issue) => describe(functionId, issue)).join('; '));
}

function describe(functionId: string, issue: SettingIssue): string {
  const key = CONTEXT_KEY_OF[issue.setting];
  const message = issue.message.startsWith(issue.setting)
    ? issue.message.slice(issue.setting.length).replace(/^:?\s*/, '')
    : issue.message;
  return key
    ? `${key} (${issue.setting}): ${message}`
    : `${issue.setting} of the ${functionId} function: ${message}`;
}

export const CONTEXT_KEYS = Object.keys(schema.shape);
