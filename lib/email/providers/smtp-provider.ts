import type { Transporter } from 'nodemailer';
import { createTransport } from 'nodemailer';
import { ConfigError, EmailDeliveryError } from '../../errors';
import type { EmailProvider, OutgoingEmail } from '../send-email';
import { TEMPLATE_HEADER } from './ses-provider';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/**
 * SMTP through nodemailer: smtps:// is TLS from the first byte; smtp:// must upgrade with
 * STARTTLS (requireTLS), except to a loopback host, where there is no network to protect.
 * `settingName` names where the URL came from, for the cold-start error.
 */
export function createSmtpTransport(url: string, settingName: string): Transporter {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ConfigError(`Invalid configuration: ${settingName}: not a URL`, { cause });
  }
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:')
    throw new ConfigError(`Invalid configuration: ${settingName}: must be an smtp:// or smtps:// URL`);
  const loopback = LOOPBACK.has(parsed.hostname);
  return createTransport({
    host: parsed.hostname,
    port: Number(parsed.port || (parsed.protocol === 'smtps:' ? 465 : 587)),
    secure: parsed.protocol === 'smtps:',
    requireTLS: !loopback,
    ignoreTLS: loopback && parsed.protocol === 'smtp:',
    ...(parsed.username
      ? { auth: { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) } }
      : {}),
    tls: { rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    connectionTimeout: 5_000,
    greetingTimeout: 5_000,
    socketTimeout: 10_000,
  });
}

export class SmtpEmailProvider implements EmailProvider {
  constructor(
    private readonly transport: Pick<Transporter, 'sendMail'>,
    private readonly from: string,
  ) {}

  async deliver(message: OutgoingEmail): Promise<void> {
    try {
      await this.transport.sendMail({
        from: this.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        headers: { [TEMPLATE_HEADER]: message.template },
      });
    } catch (error) {
      throw classifySmtpError(error);
    }
  }
}

/** Connection-level failures nodemailer reports without an SMTP reply code. */
const SMTP_TRANSIENT_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ECONNRESET',
  'ECONNREFUSED',
]);

/**
 * An SMTP reply decides when there is one: 4xx is "try again later", 5xx is final (a bad
 * recipient, a rejected message, refused auth). Without a reply, a lost or refused
 * connection or a timeout is transient.
 */
export function classifySmtpError(error: unknown): EmailDeliveryError {
  const { code, responseCode } = (error ?? {}) as { code?: string; responseCode?: number };
  const label = responseCode ? `smtp_${responseCode}` : (code ?? 'unknown');
  if (typeof responseCode === 'number')
    return new EmailDeliveryError(responseCode < 500, label, { cause: error });
  return new EmailDeliveryError(code === undefined || SMTP_TRANSIENT_CODES.has(code), label, {
    cause: error,
  });
}
