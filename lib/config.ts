import * as z from 'zod/mini';
import './zod-messages';
import { ConfigError } from './errors';

/** A fixed-window limit: at most `limit` events per `windowSeconds`. */
export interface RateRule {
  limit: number;
  windowSeconds: number;
}

const UNIT_SECONDS = { s: 1, m: 60, h: 3600 } as const;

/** Parses "20/15m" or a comma list such as "1/60s,3/1h". */
const rateRules = z.pipe(
  z.string().check(z.trim()),
  z.transform((value: string, ctx): RateRule[] => {
    const rules: RateRule[] = [];
    for (const part of value.split(',')) {
      const match = /^(\d+)\/(\d+)([smh])$/.exec(part.trim());
      if (!match) {
        ctx.issues.push({
          code: 'custom',
          message: `"${part}" is not of the form COUNT/WINDOW, e.g. 20/15m`,
          input: value,
        });
        return z.NEVER;
      }
      const [, count, amount, unit] = match as unknown as [string, string, string, keyof typeof UNIT_SECONDS];
      const rule = { limit: Number(count), windowSeconds: Number(amount) * UNIT_SECONDS[unit] };
      if (rule.limit < 1 || rule.windowSeconds < 1 || rule.windowSeconds > 86_400) {
        ctx.issues.push({
          code: 'custom',
          message: `"${part}" needs a count of 1 or more and a window of 1s to 24h`,
          input: value,
        });
        return z.NEVER;
      }
      if (rules.some((other) => other.windowSeconds === rule.windowSeconds)) {
        ctx.issues.push({
          code: 'custom',
          message: `"${part}": two rules with the same window`,
          input: value,
        });
        return z.NEVER;
      }
      rules.push(rule);
    }
    return rules;
  }),
);

/** Public in the source, so good only for unit tests; refused inside Lambda (see loadConfig). */
const BUILT_IN_SALT = 'password-reset-service';

const bool = z.pipe(
  z.enum(['true', 'false']),
  z.transform((value) => value === 'true'),
);
const int = (min: number, max: number) => z.coerce.number().check(z.int(), z.gte(min), z.lte(max));

/**
 * Only https links (loopback http for local development), with {token} exactly once and inside the
 * fragment: browsers never send the fragment to a server, so the token stays out of access logs,
 * proxies and Referer headers, and a mail scanner that prefetches the link learns nothing usable.
 */
const linkTemplate = z.string().check(
  z.refine(
    (value) => value.split('{token}').length === 2,
    'must contain the {token} placeholder exactly once',
  ),
  z.refine((value) => {
    const hash = value.indexOf('#');
    return hash !== -1 && value.indexOf('{token}') > hash;
  }, 'must put {token} in the URL fragment (after #), e.g. https://app.example.com/reset#token={token}'),
  z.refine((value) => {
    try {
      const url = new URL(value.replace('{token}', 'x'));
      const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost';
      return url.protocol === 'https:' || (url.protocol === 'http:' && loopback);
    } catch {
      return false;
    }
  }, 'must be an https URL (http is allowed for localhost only)'),
);

const secretArn = z.string().check(z.startsWith('arn:', 'must be a Secrets Manager secret ARN'));

// Code (OTP) mode (issue 13). New zod code in the functional style (works with zod and zod/mini).
export const RESET_METHOD_NAMES = ['link', 'code'] as const;
export type ResetMethod = (typeof RESET_METHOD_NAMES)[number];

/** "link", "code", "link,code" or "code,link": the first one is the default method. */
const resetMethods = z.pipe(
  z.string(),
  z.transform((value: string, ctx): ResetMethod[] => {
    const methods = value.split(',').map((method) => method.trim());
    const valid = methods.every((method) => (RESET_METHOD_NAMES as readonly string[]).includes(method));
    if (!valid || new Set(methods).size !== methods.length) {
      ctx.issues.push({ code: 'custom', message: 'must be link, code, or link,code', input: value });
      return z.NEVER;
    }
    return methods as ResetMethod[];
  }),
);
const boundedInt = (min: number, max: number, fallback: number) =>
  z._default(z.pipe(z.coerce.number(), z.int().check(z.gte(min), z.lte(max))), fallback);

const codeSettings = {
  RESET_METHODS: z._default(resetMethods, ['link'] as ResetMethod[]),
  RESET_CODE_LENGTH: boundedInt(6, 10, 8),
  // ASVS 5.0 6.5.5: an out-of-band code lives at most 10 minutes by default; never more than 15.
  RESET_CODE_TTL_MINUTES: boundedInt(1, 15, 10),
  RESET_CODE_MAX_ATTEMPTS: boundedInt(1, 10, 5),
  // Failed codes per account, over every flow and network: a fresh code does not reset it.
  RATE_LIMIT_CODE_FAILURES_ACCOUNT: z._default(rateRules, [{ limit: 10, windowSeconds: 86_400 }]),
};

const schema = z.object({
  ...codeSettings,
  TOKEN_TABLE_NAME: z.string().check(z.minLength(3)),
  USERS_TABLE_NAME: z.string().check(z.minLength(3)),
  USERS_EMAIL_INDEX_NAME: z._default(z.string().check(z.minLength(3)), 'email-index'),
  KILL_SWITCH_PARAMETER_NAME: z
    .string()
    .check(z.startsWith('/', 'must be a full SSM parameter name starting with /')),
  KILL_SWITCH_CACHE_SECONDS: z._default(int(1, 300), 30),
  RESET_LINK_TEMPLATE: linkTemplate,
  TOKEN_TTL_MINUTES: z._default(int(5, 60), 15),
  BCRYPT_COST: z._default(int(4, 15), 12),
  PASSWORD_MIN_LENGTH: z._default(int(8, 64), 15),
  PASSWORD_MAX_LENGTH: z._default(int(15, 64), 64),
  PASSWORD_COMPOSITION_RULES: z._default(bool, false),
  RATE_LIMIT_REQUEST_IP: z._default(rateRules, [{ limit: 20, windowSeconds: 900 }]),
  RATE_LIMIT_REQUEST_ACCOUNT: z._default(rateRules, [
    { limit: 1, windowSeconds: 60 },
    { limit: 3, windowSeconds: 3600 },
  ]),
  // RATE_LIMIT_REQUEST_ACCOUNT counts per account AND client network (IPv4 /24, IPv6 /64), so one
  // network cannot use up another's budget; this looser cap counts every network together.
  RATE_LIMIT_REQUEST_ACCOUNT_TOTAL: z._default(rateRules, [{ limit: 10, windowSeconds: 3600 }]),
  RATE_LIMIT_CONFIRM_IP: z._default(rateRules, [{ limit: 30, windowSeconds: 900 }]),
  RATE_LIMIT_CONFIRM_FAILURES_IP: z._default(rateRules, [{ limit: 10, windowSeconds: 900 }]),
  // Optional padding of every request answer; timing safety does not need it (the account's work is queued).
  REQUEST_RESPONSE_FLOOR_MS: z._default(int(0, 5000), 0),
  // The reset worker's queue: the request function hands each reset to it.
  RESET_JOBS_QUEUE_URL: z.optional(z.url()),
  RESET_JOBS_DLQ_URL: z.optional(z.url()),
  // Retries cover a store or SSM outage of a few minutes; a job older than its credential is dropped.
  RESET_JOB_MAX_ATTEMPTS: z._default(int(1, 20), 10),
  RESET_JOB_RETRY_BASE_SECONDS: z._default(int(0, 300), 1),
  RESET_JOB_RETRY_MAX_SECONDS: z._default(int(0, 900), 60),
  // Off unless set: an outbox item is only useful where a stream publishes it (the stack sets it).
  PASSWORD_CHANGED_EVENTS: z._default(bool, false),
  ACCOUNT_KEY_SALT: z._default(z.string().check(z.minLength(8)), BUILT_IN_SALT),
  // Deployed: the ARN of the Secrets Manager secret holding ACCOUNT_KEY_SALT (see lib/secrets.ts).
  ACCOUNT_KEY_SECRET_ARN: z.optional(secretArn),
  // Edge protection: CloudFront sends this secret in a header; requests without it are refused.
  ORIGIN_VERIFY_SECRET: z.optional(z.string().check(z.minLength(32))),
  ORIGIN_VERIFY_SECRET_ARN: z.optional(secretArn),
  // Email delivery (issue 9). Which of these a provider needs is checked in loadConfig.
  EMAIL_PROVIDER: z._default(z.enum(['mock', 'ses', 'smtp']), 'mock'),
  EMAIL_FROM: z.optional(
    z
      .string()
      .check(
        z.refine(
          isFromAddress,
          'must be an address, optionally with a display name: Market <no-reply@market.example.com>',
        ),
      ),
  ),
  SES_CONFIGURATION_SET: z.optional(
    z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a configuration set name')),
  ),
  SMTP_URL: z.optional(
    z
      .string()
      .check(
        z.refine(
          isSmtpUrl,
          'must be smtps://host:port, or smtp://host:port with STARTTLS (required except to localhost)',
        ),
      ),
  ),
  SMTP_SECRET_ARN: z.optional(secretArn),
  EMAIL_QUEUE_URL: z.optional(z.url()),
  EMAIL_DLQ_URL: z.optional(z.url()),
  EMAIL_MAX_ATTEMPTS: z._default(int(1, 20), 8),
  EMAIL_RETRY_BASE_SECONDS: z._default(int(0, 300), 2),
  EMAIL_RETRY_MAX_SECONDS: z._default(int(0, 900), 60),
  EMAIL_SUPPRESSION_DAYS: z._default(int(1, 365), 30),
  // Password strength (issue 12).
  PASSWORD_CONTEXT_WORDS: z.optional(z.string()),
  PASSWORD_BREACH_CHECK: z._default(z.enum(['off', 'hibp']), 'off'),
  PASSWORD_BREACH_CHECK_URL: z._default(z.url({ protocol: /^https?$/ }), 'https://api.pwnedpasswords.com'),
  PASSWORD_BREACH_CHECK_TIMEOUT_MS: z._default(int(100, 1000), 1000),
});

/** The exported settings schema: the functions and `cdk synth` check settings with the same one. */
export const settingsSchema = schema;

export type Config = {
  tokenTableName: string;
  usersTableName: string;
  usersEmailIndexName: string;
  killSwitchParameterName: string;
  killSwitchCacheSeconds: number;
  resetLinkTemplate: string;
  tokenTtlMinutes: number;
  bcryptCost: number;
  passwordPolicy: {
    minLength: number;
    maxLength: number;
    compositionRules: boolean;
    /** Lowercased, 3+ characters each: the site's name and the like. */
    contextWords: string[];
  };
  breachCheck: { mode: 'off' | 'hibp'; baseUrl: string; timeoutMs: number };
  /** Enabled reset methods; the first is the default when a request names none. */
  resetMethods: ResetMethod[];
  codes: { length: number; ttlMinutes: number; maxAttempts: number };
  rateLimits: {
    requestPerIp: RateRule[];
    requestPerAccount: RateRule[];
    /** Account-wide cap over every network, so one mailbox cannot be flooded. */
    requestPerAccountTotal: RateRule[];
    confirmPerIp: RateRule[];
    confirmFailuresPerIp: RateRule[];
    /** Failed codes per account (HMAC of the address), across flows: new flows do not reset it. */
    codeFailuresPerAccount: RateRule[];
  };
  requestResponseFloorMs: number;
  resetJobs: ResetJobsConfig;
  accountKeySalt: string;
  /** Write a PasswordChanged outbox item in the reset transaction. */
  passwordChangedEvents: boolean;
  /** Set with edge protection: the value CloudFront's origin-verify header must carry. */
  originVerifySecret?: string | undefined;
  email: EmailConfig;
};

export interface ResetJobsConfig {
  /** Where the request function hands resets to the worker. */
  queueUrl: string | undefined;
  /** Where the worker puts the jobs it gives up on. */
  deadLetterQueueUrl: string | undefined;
  maxAttempts: number;
  retryBaseSeconds: number;
  retryMaxSeconds: number;
}

export interface EmailConfig {
  provider: 'mock' | 'ses' | 'smtp';
  /** Required for ses and smtp. */
  from: string | undefined;
  sesConfigurationSet: string | undefined;
  /** SMTP connection URL locally; deployed, the secret ARN holds it. */
  smtpUrl: string | undefined;
  smtpSecretArn: string | undefined;
  /** Where the request and confirm functions hand rendered mail to the sender. */
  queueUrl: string | undefined;
  /** Where the sender puts what it gives up on. */
  deadLetterQueueUrl: string | undefined;
  maxAttempts: number;
  retryBaseSeconds: number;
  retryMaxSeconds: number;
  suppressionDays: number;
}

/** "addr@host" or "Display Name <addr@host>". */
export function isFromAddress(value: string): boolean {
  const match = /^(?:([^<>\r\n]*?)\s*<([^<>\s]+)>|([^<>\s]+))$/.exec(value.trim());
  const address = match?.[2] ?? match?.[3];
  return !!address && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address);
}

/** smtp: or smtps: with a host; TLS itself is enforced by the transport (requireTLS). */
export function isSmtpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** "Market, marketplace" -> ["market", "marketplace"]; shorter words would reject too much. */
function contextWords(value: string | undefined): string[] {
  const words = (value ?? '').split(',').map((word) => word.trim().toLowerCase());
  const short = words.find((word) => word.length > 0 && word.length < 3);
  if (short !== undefined)
    throw new ConfigError(
      `Invalid configuration: PASSWORD_CONTEXT_WORDS: "${short}" is shorter than 3 characters`,
    );
  return words.filter((word) => word.length > 0);
}

/** The variables that have a value: an empty string counts as unset, never as a value. */
export function definedSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => !!entry[1]));
}

/**
 * Reads the environment once and fails fast, naming every bad setting.
 * Empty strings count as unset so that a blank variable never slips through as a value.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(definedSettings(env));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  if (e.PASSWORD_MAX_LENGTH < e.PASSWORD_MIN_LENGTH) {
    throw new ConfigError('Invalid configuration: PASSWORD_MAX_LENGTH must not be below PASSWORD_MIN_LENGTH');
  }
  if (e.RESET_JOB_RETRY_MAX_SECONDS < e.RESET_JOB_RETRY_BASE_SECONDS) {
    throw new ConfigError(
      'Invalid configuration: RESET_JOB_RETRY_MAX_SECONDS must not be below RESET_JOB_RETRY_BASE_SECONDS',
    );
  }
  if (env.AWS_LAMBDA_FUNCTION_NAME && e.ACCOUNT_KEY_SALT === BUILT_IN_SALT) {
    // Anyone with the source knows the built-in salt; deployed keys need the stack's secret.
    throw new ConfigError(
      'Invalid configuration: ACCOUNT_KEY_SALT: required in Lambda (resolve ACCOUNT_KEY_SECRET_ARN first)',
    );
  }
  return {
    tokenTableName: e.TOKEN_TABLE_NAME,
    usersTableName: e.USERS_TABLE_NAME,
    usersEmailIndexName: e.USERS_EMAIL_INDEX_NAME,
    killSwitchParameterName: e.KILL_SWITCH_PARAMETER_NAME,
    killSwitchCacheSeconds: e.KILL_SWITCH_CACHE_SECONDS,
    resetLinkTemplate: e.RESET_LINK_TEMPLATE,
    tokenTtlMinutes: e.TOKEN_TTL_MINUTES,
    bcryptCost: e.BCRYPT_COST,
    passwordPolicy: {
      minLength: e.PASSWORD_MIN_LENGTH,
      maxLength: e.PASSWORD_MAX_LENGTH,
      compositionRules: e.PASSWORD_COMPOSITION_RULES,
      contextWords: contextWords(e.PASSWORD_CONTEXT_WORDS),
    },
    breachCheck: {
      mode: e.PASSWORD_BREACH_CHECK,
      baseUrl: e.PASSWORD_BREACH_CHECK_URL,
      timeoutMs: e.PASSWORD_BREACH_CHECK_TIMEOUT_MS,
    },
    resetMethods: e.RESET_METHODS,
    codes: {
      length: e.RESET_CODE_LENGTH,
      ttlMinutes: e.RESET_CODE_TTL_MINUTES,
      maxAttempts: e.RESET_CODE_MAX_ATTEMPTS,
    },
    rateLimits: {
      requestPerIp: e.RATE_LIMIT_REQUEST_IP,
      requestPerAccount: e.RATE_LIMIT_REQUEST_ACCOUNT,
      requestPerAccountTotal: e.RATE_LIMIT_REQUEST_ACCOUNT_TOTAL,
      confirmPerIp: e.RATE_LIMIT_CONFIRM_IP,
      confirmFailuresPerIp: e.RATE_LIMIT_CONFIRM_FAILURES_IP,
      codeFailuresPerAccount: e.RATE_LIMIT_CODE_FAILURES_ACCOUNT,
    },
    requestResponseFloorMs: e.REQUEST_RESPONSE_FLOOR_MS,
    resetJobs: {
      queueUrl: e.RESET_JOBS_QUEUE_URL,
      deadLetterQueueUrl: e.RESET_JOBS_DLQ_URL,
      maxAttempts: e.RESET_JOB_MAX_ATTEMPTS,
      retryBaseSeconds: e.RESET_JOB_RETRY_BASE_SECONDS,
      retryMaxSeconds: e.RESET_JOB_RETRY_MAX_SECONDS,
    },
    accountKeySalt: e.ACCOUNT_KEY_SALT,
    passwordChangedEvents: e.PASSWORD_CHANGED_EVENTS,
    originVerifySecret: e.ORIGIN_VERIFY_SECRET,
    email: emailConfig(e),
  };
}

/** The settings a provider needs, checked together so the error names the missing one. */
function emailConfig(e: z.infer<typeof schema>): EmailConfig {
  const missing = (name: string, why: string) =>
    new ConfigError(`Invalid configuration: ${name}: required ${why}`);
  if (e.EMAIL_PROVIDER !== 'mock' && !e.EMAIL_FROM)
    throw missing('EMAIL_FROM', `when EMAIL_PROVIDER=${e.EMAIL_PROVIDER}`);
  if (e.EMAIL_PROVIDER === 'smtp' && !e.SMTP_URL && !e.SMTP_SECRET_ARN)
    throw missing('SMTP_URL or SMTP_SECRET_ARN', 'when EMAIL_PROVIDER=smtp');
  if (e.EMAIL_RETRY_MAX_SECONDS < e.EMAIL_RETRY_BASE_SECONDS)
    throw new ConfigError(
      'Invalid configuration: EMAIL_RETRY_MAX_SECONDS must not be below EMAIL_RETRY_BASE_SECONDS',
    );
  return {
    provider: e.EMAIL_PROVIDER,
    from: e.EMAIL_FROM,
    sesConfigurationSet: e.SES_CONFIGURATION_SET,
    smtpUrl: e.SMTP_URL,
    smtpSecretArn: e.SMTP_SECRET_ARN,
    queueUrl: e.EMAIL_QUEUE_URL,
    deadLetterQueueUrl: e.EMAIL_DLQ_URL,
    maxAttempts: e.EMAIL_MAX_ATTEMPTS,
    retryBaseSeconds: e.EMAIL_RETRY_BASE_SECONDS,
    retryMaxSeconds: e.EMAIL_RETRY_MAX_SECONDS,
    suppressionDays: e.EMAIL_SUPPRESSION_DAYS,
  };
}

/** A setting one function needs and the others do not; fails its cold start by name. */
export function requireSetting<T>(value: T | undefined, name: string): T {
  if (value === undefined || value === '') throw new ConfigError(`Invalid configuration: ${name}: required`);
  return value;
}

/** A setting that failed its check; `setting` is the environment variable's name. */
export interface SettingIssue {
  setting: string;
  message: string;
}

/**
 * The same checks as loadConfig, as a list instead of a throw: `cdk synth` runs them on the
 * environment it gives each function, so a bad value fails the synth instead of every cold start.
 */
export function validateSettings(env: Record<string, string | undefined>): SettingIssue[] {
  const parsed = schema.safeParse(definedSettings(env));
  if (!parsed.success) {
    return parsed.error.issues.map((issue) => ({
      setting: String(issue.path[0] ?? ''),
      message: issue.message,
    }));
  }
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const message = error.message.replace(/^Invalid configuration: /, '');
    return [{ setting: /^[A-Z][A-Z0-9_]+/.exec(message)?.[0] ?? '', message }];
  }
}
