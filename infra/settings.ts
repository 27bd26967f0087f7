import * as z from 'zod';

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

const schema = z.object({
  stage: z.enum(['dev', 'prod']).default('dev'),
  resetLinkTemplate: z.string().optional(),
  throttleRateLimit: int(1, 10_000).default(50),
  throttleBurstLimit: int(1, 5_000).default(100),
  corsOrigins: list.default([]),
  alarmTopicArn: z.string().startsWith('arn:').optional(),
  existingUsersTableName: z.string().min(3).optional(),
  existingUsersEmailIndexName: z.string().min(3).optional(),
  tracing: bool.default(false),
  bcryptCost: int(10, 15).default(12),
  tokenTtlMinutes: int(5, 60).default(15),
  requestMemoryMb: int(128, 3008).default(256),
  confirmMemoryMb: int(512, 10_240).default(1024),
  requestResponseFloorMs: int(50, 5000).default(250),
  // PasswordChanged events (infra/password-events.ts): on unless turned off; an existing bus by name or ARN.
  passwordChangedEvents: bool.default(true),
  eventBusName: z.string().min(1).max(1600).optional(),
  // Email delivery (issue 9; checked together in infra/email-delivery.ts).
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

export type Settings = z.infer<typeof schema> & { resetLinkTemplate: string };

const EXAMPLE_LINK = 'https://market.example.com/reset-password#token={token}';

export function readSettings(context: Record<string, unknown>): Settings {
  const parsed = schema.safeParse(
    Object.fromEntries(Object.entries(context).filter(([, v]) => v !== undefined && v !== '')),
  );
  if (!parsed.success) {
    throw new Error(
      `Invalid CDK context: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const settings = parsed.data;
  if (settings.stage === 'prod' && !settings.resetLinkTemplate) {
    throw new Error(
      "Invalid CDK context: resetLinkTemplate is required for stage=prod (your app's reset page, with {token})",
    );
  }
  if (settings.existingUsersEmailIndexName && !settings.existingUsersTableName) {
    throw new Error('Invalid CDK context: existingUsersEmailIndexName needs existingUsersTableName');
  }
  if (settings.eventBusName && !settings.passwordChangedEvents) {
    throw new Error('Invalid CDK context: eventBusName needs passwordChangedEvents=true');
  }
  return { ...settings, resetLinkTemplate: settings.resetLinkTemplate ?? EXAMPLE_LINK };
}

export const CONTEXT_KEYS = Object.keys(schema.shape);
