import { randomUUID } from 'node:crypto';
import type { SendMessage } from '../aws/send-message';
import type { QueuedEmail } from './queued-email';
import type { EmailProvider, OutgoingEmail } from './send-email';

/**
 * Hands rendered mail to the sender function through SQS, so the provider's latency and
 * failures never reach the HTTP answer. SendMessage is one quick, idempotent-by-id call, signed
 * without the generated client (lib/aws/send-message.ts) and retried; a duplicate it may create
 * is sent once by the sender's idempotency.
 */
export class EmailQueue implements EmailProvider {
  constructor(
    private readonly sendMessage: SendMessage,
    private readonly queueUrl: string,
  ) {}

  async deliver(message: OutgoingEmail, options: { signal?: AbortSignal } = {}): Promise<void> {
    const body: QueuedEmail = {
      id: randomUUID(),
      to: message.to,
      template: message.template,
      subject: message.subject,
      text: message.text,
      html: message.html,
      ...(message.expiresAt ? { expiresAt: message.expiresAt } : {}),
    };
    await this.sendMessage(this.queueUrl, JSON.stringify(body), options);
  }
}
