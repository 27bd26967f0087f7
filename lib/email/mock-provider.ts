import type { EmailProvider, OutgoingEmail } from './send-email';

/**
 * The default provider (EMAIL_PROVIDER=mock): it delivers to an in-memory outbox, never to the network.
 * The outbox is bounded so a long-lived Lambda container cannot grow without limit.
 */
export class MockEmailProvider implements EmailProvider {
  private readonly messages: OutgoingEmail[] = [];
  private readonly listeners = new Set<(message: OutgoingEmail) => void>();

  /** npm start's local fault injection (LOCAL_EMAIL_DELAY_MS/FAIL_RATE) may delay or throw here. */
  beforeDeliver: (() => Promise<void>) | undefined;

  constructor(private readonly capacity = 1_000) {}

  async deliver(message: OutgoingEmail): Promise<void> {
    await this.beforeDeliver?.();
    this.messages.push(message);
    if (this.messages.length > this.capacity) this.messages.shift();
    for (const listener of this.listeners) listener(message);
  }

  /** Messages, oldest first. */
  outbox(): readonly OutgoingEmail[] {
    return this.messages;
  }

  onDeliver(listener: (message: OutgoingEmail) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  clear(): void {
    this.messages.length = 0;
  }
}

/** One provider per process, so the local server can show what the handlers delivered. */
export const mockEmailProvider = new MockEmailProvider();
