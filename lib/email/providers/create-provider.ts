import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import type { EmailConfig } from '../../config';
import { ConfigError } from '../../errors';
import { mockEmailProvider } from '../mock-provider';
import type { EmailProvider } from '../send-email';
import { SesEmailProvider } from './ses-provider';
import { createSmtpTransport, SmtpEmailProvider } from './smtp-provider';

/**
 * The sender's provider, built once at cold start. A missing or bad setting (or an unreadable
 * SMTP secret) throws a ConfigError naming it, so the function never starts half-configured.
 */
export async function createEmailProvider(config: EmailConfig): Promise<EmailProvider> {
  if (config.provider === 'mock') return mockEmailProvider;
  const from = config.from as string; // loadConfig requires it for ses and smtp
  if (config.provider === 'ses') {
    // One attempt: the queue retries with backoff, and a slow SES must not pile up SDK retries.
    const client = new SESv2Client({
      maxAttempts: 1,
      requestHandler: { connectionTimeout: 2_000, requestTimeout: 10_000, throwOnRequestTimeout: true },
    });
    return new SesEmailProvider(client, { from, configurationSet: config.sesConfigurationSet });
  }
  if (config.smtpUrl) return new SmtpEmailProvider(createSmtpTransport(config.smtpUrl, 'SMTP_URL'), from);
  const arn = config.smtpSecretArn as string;
  let url: string;
  try {
    url = smtpUrlFromSecret(await getSecret(arn, { maxAge: 3_600 }));
  } catch (cause) {
    throw new ConfigError('Invalid configuration: SMTP_SECRET_ARN: the secret could not be read', { cause });
  }
  return new SmtpEmailProvider(createSmtpTransport(url, 'SMTP_SECRET_ARN (secret value)'), from);
}

/** The secret holds the URL itself, or JSON with a `url` key (the shape rotation templates write). */
function smtpUrlFromSecret(value: unknown): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (text.startsWith('{')) {
    const parsed = JSON.parse(text) as { url?: unknown };
    if (typeof parsed.url === 'string') return parsed.url;
  }
  if (!text) throw new Error('empty secret');
  return text;
}
