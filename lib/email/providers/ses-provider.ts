import { type SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { EmailDeliveryError } from '../../errors';
import type { EmailProvider, OutgoingEmail } from '../send-email';

/** Header both providers set, so bounce events and local mailboxes can tell which template a message was. */
export const TEMPLATE_HEADER = 'X-Password-Reset-Template';

export interface SesProviderOptions {
  from: string;
  configurationSet: string | undefined;
}

/** Amazon SES v2 SendEmail with a text and an HTML body. */
export class SesEmailProvider implements EmailProvider {
  constructor(
    private readonly client: Pick<SESv2Client, 'send'>,
    private readonly options: SesProviderOptions,
  ) {}

  async deliver(message: OutgoingEmail): Promise<void> {
    try {
      await this.client.send(
        new SendEmailCommand({
          FromEmailAddress: this.options.from,
          Destination: { ToAddresses: [message.to] },
          Content: {
            Simple: {
              Subject: { Data: message.subject, Charset: 'UTF-8' },
              Body: {
                Text: { Data: message.text, Charset: 'UTF-8' },
                Html: { Data: message.html, Charset: 'UTF-8' },
              },
              Headers: [{ Name: TEMPLATE_HEADER, Value: message.template }],
            },
          },
          ...(this.options.configurationSet ? { ConfigurationSetName: this.options.configurationSet } : {}),
          EmailTags: [{ Name: 'template', Value: message.template }],
        }),
      );
    } catch (error) {
      throw classifySesError(error);
    }
  }
}

/** Retrying these can succeed: throttling, quotas that reset, SES-side faults. */
const SES_TRANSIENT = new Set([
  'TooManyRequestsException',
  'LimitExceededException',
  'ThrottlingException',
  'InternalFailure',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
]);

/**
 * Throttling, 5xx, timeouts and network failures (no HTTP status) are transient. Any other
 * 4xx (MessageRejected, an unverified sender, a bad address) will fail the same way again.
 */
export function classifySesError(error: unknown): EmailDeliveryError {
  const name = error instanceof Error ? error.name : 'Unknown';
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  const transient = SES_TRANSIENT.has(name) || status === undefined || status >= 500 || status === 429;
  return new EmailDeliveryError(transient, name, { cause: error });
}
