import type { TemplateName } from '../lib/email/send-email';

/**
 * The local outbox: what the provider (the mock, the SES emulator or the SMTP server)
 * actually received, newest last, bounded like the mock's. GET /__local/outbox serves it.
 */
export interface MailboxEntry {
  to: string;
  template: TemplateName;
  subject: string;
  text: string;
  html: string;
  /** The reset link as found in the received text. */
  link?: string;
  /** A code email's one-time code, as found in the received text. */
  code?: string;
  provider: 'mock' | 'ses' | 'smtp';
}

export class LocalMailbox {
  private readonly entries: MailboxEntry[] = [];
  private readonly listeners = new Set<(entry: MailboxEntry) => void>();

  constructor(
    /** The part of RESET_LINK_TEMPLATE before {token}, to find the link in a received text. */
    private readonly linkPrefix: string,
    private readonly capacity = 1_000,
  ) {}

  record(entry: Omit<MailboxEntry, 'link' | 'code'>): void {
    const link = findLink(entry.text, this.linkPrefix);
    const code = /^Reset code: ([0-9]{6,10})$/m.exec(entry.text)?.[1];
    const full: MailboxEntry = { ...entry, ...(link ? { link } : {}), ...(code ? { code } : {}) };
    this.entries.push(full);
    if (this.entries.length > this.capacity) this.entries.shift();
    for (const listener of this.listeners) listener(full);
  }

  outbox(): readonly MailboxEntry[] {
    return this.entries;
  }

  onDeliver(listener: (entry: MailboxEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  clear(): void {
    this.entries.length = 0;
  }
}

function findLink(text: string, prefix: string): string | undefined {
  const start = prefix ? text.indexOf(prefix) : -1;
  if (start < 0) return undefined;
  return /^\S+/.exec(text.slice(start))?.[0];
}

/**
 * LOCAL_EMAIL_DELAY_MS=N (each delivery waits a random 0..N ms) and LOCAL_EMAIL_FAIL_RATE=0.3
 * (that share of deliveries fails transiently). Applied where the provider answers: in the
 * SMTP server, in front of the SES emulator, or inside the mock. Local only.
 */
export interface LocalFaults {
  delayMs: number;
  failRate: number;
}

export function localFaults(env: Record<string, string | undefined>): LocalFaults {
  const delayMs = Number(env.LOCAL_EMAIL_DELAY_MS ?? 0);
  const failRate = Number(env.LOCAL_EMAIL_FAIL_RATE ?? 0);
  if (!Number.isFinite(delayMs) || delayMs < 0)
    throw new Error('LOCAL_EMAIL_DELAY_MS must be a number of ms >= 0');
  if (!Number.isFinite(failRate) || failRate < 0 || failRate > 1)
    throw new Error('LOCAL_EMAIL_FAIL_RATE must be between 0 and 1');
  return { delayMs, failRate };
}

/** Waits the injected delay, then says whether this delivery should fail. */
export async function injectFault(faults: LocalFaults): Promise<boolean> {
  if (faults.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * faults.delayMs));
  return faults.failRate > 0 && Math.random() < faults.failRate;
}
