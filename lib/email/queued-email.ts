import * as z from 'zod';

/**
 * The message the request and confirm functions put on the email queue, and the sender reads.
 * `id` is the idempotency key: a message the queue delivers twice is sent once. The body is
 * already rendered, so the sender needs neither templates nor the token.
 */
export const queuedEmail = z.strictObject({
  id: z.uuid(),
  to: z.string().min(3).max(254),
  template: z.enum(['password_reset', 'password_reset_code', 'password_changed']),
  subject: z.string().min(1).max(998),
  text: z.string().min(1),
  html: z.string().min(1),
  /** Epoch ms after which the link is dead: the sender then drops the message unsent. */
  expiresAt: z.number().int().positive().optional(),
});

export type QueuedEmail = z.infer<typeof queuedEmail>;
