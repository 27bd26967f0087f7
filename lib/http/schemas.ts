import * as z from 'zod/mini';
import '../zod-messages';
import { TOKEN_MAX_LENGTH } from '../tokens/token';

/**
 * Request bodies. strictObject rejects unknown keys, which also covers `__proto__`
 * and `constructor`. Lengths here only bound the work; the password policy speaks later.
 */
export const requestResetBody = z.strictObject({
  email: z.pipe(z.string().check(z.trim(), z.minLength(3), z.maxLength(254)), z.email()),
});

export const confirmResetBody = z.strictObject({
  // Any string up to the issued length reaches the use case, which answers
  // invalid_or_expired_token for everything it could not have issued.
  token: z.string().check(z.minLength(1), z.maxLength(TOKEN_MAX_LENGTH * 2)),
  newPassword: z.string().check(z.minLength(1), z.maxLength(256)),
});

export type RequestResetBody = z.infer<typeof requestResetBody>;
export type ConfirmResetBody = z.infer<typeof confirmResetBody>;

/** Fixed success bodies: the request answer never varies with the account. */
export const REQUEST_ACCEPTED_BODY = JSON.stringify({
  message: 'If an account exists for that email address, a link to reset its password is on its way.',
});
export const RESET_COMPLETED_BODY = JSON.stringify({
  message: 'Your password has been changed. Sign in with your new password.',
});
