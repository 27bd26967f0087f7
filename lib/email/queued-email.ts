import * as z from 'zod/mini';
import '../zod-messages';

/**
 * The message the request and confirm functions put on the email queue, and the sender reads.
 * `id` is the idempotency key: a message the queue delivers twice is sent once. The body is
 * already rendered, so the sender needs neither templates nor the token.
 */
export const queuedEmail = z.strictObject({
  id: z.uuid(),
  to: z.string().check(z.minLength(3), z.maxLength(254)),
  template: z.enum(['password_reset', 'password_reset_code', 'password_changed']),
  subject: z.string().check(z.minLength(1), z.maxLength(998)),
  text: z.string().check(z.minLength(1)),
  html: z.string().check(z.minLength(1)),
  /** Epoch ms after which the link is dead: the sender then drops the message unsent. */
  expiresAt: z.optional(z.number().check(z.int(), z.positive())),
});

export type QueuedEmail = z.infer<typeof queuedEmail>;
