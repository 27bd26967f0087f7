import { randomUUID } from 'node:crypto';
// Only the client and the one command: this module is in the request function's bundle.
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueuedEmail } from './queued-email';
import type { EmailProvider, OutgoingEmail } from './send-email';

/**
 * Hands rendered mail to the sender function through SQS, so the provider's latency and
 * failures never reach the HTTP answer. SendMessage is one quick, idempotent-by-id call; the
 * SDK retries it, and a duplicate it may create is sent once by the sender's idempotency.
 */
export class EmailQueue implements EmailProvider {
  constructor(
    private readonly client: Pick<SQSClient, 'send'>,
    private readonly queueUrl: string,
  ) {}

  async deliver(message: OutgoingEmail): Promise<void> {
    const body: QueuedEmail = {
      id: randomUUID(),
      to: message.to,
      template: message.template,
      subject: message.subject,
      text: message.text,
      html: message.html,
      ...(message.expiresAt ? { expiresAt: message.expiresAt } : {}),
    };
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(body) }),
    );
  }
}
