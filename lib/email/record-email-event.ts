import * as z from 'zod/mini';
import '../zod-messages';
import type { Clock } from '../clock';
import type { Pseudonymize } from '../pseudonym';
import { normalizeEmail } from '../users/email-address';
import type { SuppressionReason, SuppressionStore } from './suppression-store';

/**
 * An SES configuration-set event (the `detail` of an EventBridge "Email Bounced" or "Email
 * Complaint Received" event). Only the fields this service reads; the rest is ignored.
 */
export const sesEvent = z.object({
  eventType: z.string(),
  bounce: z.optional(
    z.object({
      bounceType: z.string(),
      bouncedRecipients: z.array(z.object({ emailAddress: z.string() })),
    }),
  ),
  complaint: z.optional(z.object({ complainedRecipients: z.array(z.object({ emailAddress: z.string() })) })),
});

export type SesEvent = z.infer<typeof sesEvent>;

export interface RecordEmailEventDeps {
  suppressions: Pick<SuppressionStore, 'suppress'>;
  pseudonymize: Pseudonymize;
  clock: Clock;
  suppressionDays: number;
  /** One line per suppressed address, with its HMAC key only. */
  report: (fields: { accountKey: string; reason: SuppressionReason; bounceType?: string }) => void;
}

/**
 * Permanent bounces and complaints suppress the address; transient bounces (a full mailbox)
 * do not, since SES already retried them. Returns how many addresses were suppressed.
 */
export async function recordEmailEvent(event: unknown, deps: RecordEmailEventDeps): Promise<number> {
  const parsed = sesEvent.safeParse(event);
  if (!parsed.success) return 0;
  const { eventType, bounce, complaint } = parsed.data;
  let reason: SuppressionReason;
  let recipients: string[];
  if (eventType === 'Bounce' && bounce?.bounceType === 'Permanent') {
    reason = 'bounce';
    recipients = bounce.bouncedRecipients.map((r) => r.emailAddress);
  } else if (eventType === 'Complaint' && complaint) {
    reason = 'complaint';
    recipients = complaint.complainedRecipients.map((r) => r.emailAddress);
  } else {
    return 0;
  }
  const now = deps.clock.now();
  const addresses = new Set(recipients.map(normalizeEmail));
  for (const address of addresses) {
    const accountKey = deps.pseudonymize('account', address);
    await deps.suppressions.suppress(accountKey, reason, now, deps.suppressionDays);
    deps.report({ accountKey, reason, ...(bounce ? { bounceType: bounce.bounceType } : {}) });
  }
  return addresses.size;
}
