import { simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream } from 'smtp-server';
import { TEMPLATE_HEADER } from '../lib/email/providers/ses-provider';
import type { TemplateName } from '../lib/email/send-email';
import { freePort } from './free-port';
import { injectFault, type LocalFaults, type LocalMailbox } from './mailbox';

/**
 * A local SMTP server (smtp-server, by the nodemailer authors) that parses what it receives
 * (mailparser) into the local mailbox. Like a real relay it answers 451 for an injected
 * transient fault, and 550 for SES's mailbox-simulator bounce address, a permanent failure.
 */
export const PERMANENT_FAILURE_ADDRESS = 'bounce@simulator.amazonses.com';

export interface SmtpSink {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const smtpError = (message: string, responseCode: number) =>
  Object.assign(new Error(message), { responseCode });

export async function startSmtpSink(mailbox: LocalMailbox, faults: LocalFaults): Promise<SmtpSink> {
  const port = await freePort();
  const server = new SMTPServer({
    authOptional: true,
    // Loopback only: the transport skips TLS for localhost and nowhere else.
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (address.address.toLowerCase() === PERMANENT_FAILURE_ADDRESS)
        return callback(smtpError('5.1.1 Recipient address rejected: mailbox does not exist', 550));
      callback();
    },
    onData(stream: SMTPServerDataStream, _session, callback) {
      const parsed = simpleParser(stream);
      void (async () => {
        try {
          const message = await parsed;
          if (await injectFault(faults))
            return callback(smtpError('4.3.0 Try again later (injected fault)', 451));
          const header = message.headers.get(TEMPLATE_HEADER.toLowerCase());
          mailbox.record({
            to: (Array.isArray(message.to) ? message.to[0] : message.to)?.value[0]?.address ?? '',
            template: String(header ?? 'password_reset') as TemplateName,
            subject: message.subject ?? '',
            text: message.text ?? '',
            html: typeof message.html === 'string' ? message.html : '',
            provider: 'smtp',
          });
          callback();
        } catch (error) {
          callback(smtpError(`4.3.0 Could not read the message: ${(error as Error).message}`, 451));
        }
      })();
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
